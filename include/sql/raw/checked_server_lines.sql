-- Every server line of the day parsed once, with the fast-path verdict `is_fast_ok`
-- (see checked_client_lines.sql); the line itself is joined back from _lines.
create or replace temp table _checked_server_lines as
with

parsed as (
    select
        object_key,
        line_no,
        case when json_valid(line) then json_transform(line, '{
            "schema_version": "JSON", "type": "JSON", "request_id": "VARCHAR", "ts": "VARCHAR",
            "model_version": "VARCHAR", "prompt": {"prefix": "VARCHAR", "suffix": "VARCHAR"},
            "completion": "VARCHAR", "latency_ms": "JSON"
        }') end as j
    from _lines
    where line is distinct from chr(2)
)

select
    object_key,
    line_no,
    j.request_id,
    timezone('UTC', try_cast(j.ts as timestamptz)) as ts,
    j.model_version,
    j.prompt.prefix as prompt_prefix,
    j.prompt.suffix as prompt_suffix,
    j.completion,
    case when json_type(j.latency_ms) in ('UBIGINT', 'BIGINT', 'DOUBLE') then j.latency_ms::double end as latency_ms,
    coalesce(
        (j.schema_version is null or j.schema_version::varchar = '1')
        and j.type is null
        and length(j.request_id) between 1 and 512
        and length(j.model_version) between 1 and 512
        and j.prompt.prefix is not null
        and j.prompt.suffix is not null
        and j.completion is not null
        and json_type(j.latency_ms) in ('UBIGINT', 'BIGINT', 'DOUBLE') and j.latency_ms::double >= 0
        and regexp_full_match(j.ts, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')
        and try_cast(j.ts as timestamptz) is not null,
        false
    ) as is_fast_ok
from parsed
