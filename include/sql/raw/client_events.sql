-- raw.client_events for one landing day: lines that passed (fast path or JSON Schema),
-- appended batch by batch; ingest then keeps the first copy of each event_id (by object, line).
select
    $ds as ds,
    event_id,
    type,
    ts,
    user_id,
    session_id,
    doc_uri,
    doc_version,
    language_id,
    position_encoding,
    completion_id,
    request_id,
    object_key,
    line_no,
    line as payload,  -- null for a plain edit (checked_client_lines.sql)
    change_count,
    change_start_line,
    change_start_character,
    change_end_line,
    change_end_character,
    change_text,
    accepted_text,
    accept_kind,
    reject_reason,
    client_name,
    client_version
from echo_scratch._checked_client_lines as c
where is_fast_ok
    or exists (select 1 from _schema_ok as s where s.object_key = c.object_key and s.line_no = c.line_no)
