-- raw.server_events for one landing day: one row per request_id (first copy wins).
select
    $ds as ds,
    request_id,
    ts,
    model_version,
    prompt_prefix,
    prompt_suffix,
    completion,
    latency_ms,
    object_key,
    line_no,
    line::json as payload
from echo_scratch._checked_server_lines as c
where is_fast_ok
    or exists (select 1 from _schema_ok as s where s.object_key = c.object_key and s.line_no = c.line_no)
qualify row_number() over (partition by request_id order by c.object_key, c.line_no) = 1
