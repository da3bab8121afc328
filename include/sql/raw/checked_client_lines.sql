-- Every client line of the day, parsed once, with the fast-path verdict `is_fast_ok`.
-- Lines that fail it are judged by the JSON Schema in Python (echo_ops.ingest).
create or replace temp table _checked_client_lines as
with

lines as (
    select object_key, line_no, line
    from _lines
    where line is distinct from chr(2)  -- already quarantined as invalid UTF-8
),

parsed as (
    select
        object_key,
        line_no,
        line,
        coalesce(json_valid(line), false) as is_json,
        case when json_valid(line) then json_extract(line, [
            '$.schema_version', '$.event_id', '$.type', '$.ts', '$.user_id', '$.session_id',
            '$.client.name', '$.client.version', '$.client.position_encoding',
            '$.doc.uri', '$.doc.version', '$.doc.language_id',
            '$.completion_id', '$.request_id', '$.text', '$.changes', '$.position', '$.items',
            '$.item_index', '$.accepted_text', '$.accept_kind', '$.reason'
        ]) end as f
    from lines
),

typed as (
    select
        object_key,
        line_no,
        line,
        is_json,
        coalesce(case when is_json then json_type(line) = 'OBJECT' end, false) as is_object,
        f[1]::varchar = '1' as is_v1,
        f[2] ->> '$' as event_id,
        f[3] ->> '$' as type,
        f[4] ->> '$' as ts_text,
        f[5] ->> '$' as user_id,
        f[6] ->> '$' as session_id,
        json_type(f[7]) = 'VARCHAR' and json_type(f[8]) = 'VARCHAR' as is_client_ok,
        f[9] ->> '$' as position_encoding,
        json_type(f[9]) as position_encoding_type,
        f[10] ->> '$' as doc_uri,
        case when json_type(f[11]) = 'UBIGINT' then f[11]::bigint end as doc_version,
        f[12] ->> '$' as language_id,
        f[13] ->> '$' as completion_id,
        f[14] ->> '$' as request_id,
        json_type(f[2]) = 'VARCHAR' and json_type(f[5]) = 'VARCHAR' and json_type(f[6]) = 'VARCHAR'
            and json_type(f[10]) = 'VARCHAR' and json_type(f[12]) = 'VARCHAR' as are_strings,
        json_type(f[15]) = 'VARCHAR' as has_text,
        f[16] as changes,
        f[17] as position,
        f[18] as items,
        json_type(f[19]) = 'UBIGINT' as has_item_index,
        json_type(f[20]) = 'VARCHAR' and length(f[20] ->> '$') > 0 as has_accepted_text,
        f[21] ->> '$' as accept_kind,
        f[22] ->> '$' as reject_reason,
        json_type(f[13]) = 'VARCHAR' and length(f[13] ->> '$') > 0 as has_completion_id,
        json_type(f[14]) = 'VARCHAR' and length(f[14] ->> '$') > 0 as has_request_id
    from parsed
),

checked as (
    select
        *,
        try_cast(ts_text as timestamptz) as ts_tz,
        -- every range inside `changes` / `items` must have four non-negative integers
        coalesce(
            json_type(changes) = 'ARRAY' and json_array_length(changes) > 0
            and len(list_filter(json_extract(changes, '$[*]'), lambda c:
                json_type(c, '$.text') = 'VARCHAR'
                and json_type(c, '$.range.start.line') = 'UBIGINT'
                and json_type(c, '$.range.start.character') = 'UBIGINT'
                and json_type(c, '$.range.end.line') = 'UBIGINT'
                and json_type(c, '$.range.end.character') = 'UBIGINT'
            )) = json_array_length(changes),
            false
        ) as are_changes_ok,
        coalesce(
            json_type(items) = 'ARRAY' and json_array_length(items) > 0
            and len(list_filter(json_extract(items, '$[*]'), lambda c:
                json_type(c, '$.insert_text') = 'VARCHAR'
                and json_type(c, '$.range.start.line') = 'UBIGINT'
                and json_type(c, '$.range.start.character') = 'UBIGINT'
                and json_type(c, '$.range.end.line') = 'UBIGINT'
                and json_type(c, '$.range.end.character') = 'UBIGINT'
            )) = json_array_length(items)
            and json_type(position, '$.line') = 'UBIGINT'
            and json_type(position, '$.character') = 'UBIGINT',
            false
        ) as are_items_ok
    from typed
)

select
    object_key,
    line_no,
    line,
    is_json,
    event_id,
    type,
    timezone('UTC', ts_tz) as ts,
    user_id,
    session_id,
    doc_uri,
    doc_version,
    language_id,
    coalesce(position_encoding, 'utf-16') as position_encoding,
    completion_id,
    request_id,
    coalesce(
        is_object and is_v1 and are_strings and is_client_ok
        and length(event_id) between 1 and 512
        and length(user_id) between 1 and 512
        and length(session_id) between 1 and 512
        and length(doc_uri) between 1 and 512
        and length(language_id) between 1 and 512
        and doc_version is not null
        and regexp_full_match(ts_text, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')
        and ts_tz is not null
        and (position_encoding_type is null or position_encoding in ('utf-16', 'utf-8', 'utf-32'))
        and case type
            when 'document.opened' then has_text
            when 'document.snapshot' then has_text
            when 'document.changed' then are_changes_ok
            when 'document.saved' then true
            when 'document.closed' then true
            when 'completion.shown' then has_completion_id and has_request_id and are_items_ok
            when 'completion.accepted' then has_completion_id and has_item_index
                and has_accepted_text and accept_kind in ('full', 'line', 'word')
            when 'completion.rejected' then has_completion_id
                and reject_reason in ('dismissed', 'typed_over')
            else false
        end,
        false
    ) as is_fast_ok
from checked
