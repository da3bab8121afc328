-- raw.server_events for one landing day, appended batch by batch; ingest then keeps
-- the first copy of each request_id (by object, line).
select
    $ds as ds,
    request_id,
    user_id,
    ts,
    model_version,
    prompt_prefix,
    prompt_suffix,
    completion,
    latency_ms,
    arm,
    object_key,
    line_no,
    line as payload  -- null for a fast-path line (checked_server_lines.sql)
from echo_scratch._checked_server_lines as c
where is_fast_ok
    or exists (select 1 from _schema_ok as s where s.object_key = c.object_key and s.line_no = c.line_no)
