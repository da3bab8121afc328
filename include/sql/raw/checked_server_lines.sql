-- Every server line of the day, parsed once, with the fast-path verdict `is_fast_ok`.
create or replace temp table _checked_server_lines as
with

lines as (
    select object_key, line_no, line
    from _lines
    where line is distinct from chr(2)
),

parsed as (
    select
        object_key,
        line_no,
        line,
        coalesce(json_valid(line), false) as is_json,
        case when json_valid(line) then json_extract(line, [
            '$.schema_version', '$.request_id', '$.ts', '$.model_version', '$.prompt.prefix',
            '$.prompt.suffix', '$.completion', '$.latency_ms', '$.type'
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
        f[1] is null or f[1]::varchar = '1' as is_v1,
        f[2] ->> '$' as request_id,
        f[3] ->> '$' as ts_text,
        f[4] ->> '$' as model_version,
        f[5] ->> '$' as prompt_prefix,
        f[6] ->> '$' as prompt_suffix,
        f[7] ->> '$' as completion,
        case when json_type(f[8]) in ('UBIGINT', 'BIGINT', 'DOUBLE') then f[8]::double end as latency_ms,
        json_type(f[2]) = 'VARCHAR' and json_type(f[3]) = 'VARCHAR' and json_type(f[4]) = 'VARCHAR'
            and json_type(f[5]) = 'VARCHAR' and json_type(f[6]) = 'VARCHAR'
            and json_type(f[7]) = 'VARCHAR' as are_strings,
        f[9] is null as has_no_type
    from parsed
)

select
    object_key,
    line_no,
    line,
    is_json,
    request_id,
    timezone('UTC', try_cast(ts_text as timestamptz)) as ts,
    model_version,
    prompt_prefix,
    prompt_suffix,
    completion,
    latency_ms,
    coalesce(
        is_object and is_v1 and are_strings and has_no_type
        and length(request_id) between 1 and 512
        and length(model_version) between 1 and 512
        and latency_ms >= 0
        and regexp_full_match(ts_text, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')
        and try_cast(ts_text as timestamptz) is not null,
        false
    ) as is_fast_ok
from typed
