-- Every server line of the day parsed once, with the fast-path verdict `is_fast_ok`
-- (see checked_client_lines.sql); one object at a time ($key, $path).
with

lines as (
    select $key as object_key, ordinality as line_no, line
    from read_csv($path, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
        header = false, auto_detect = false, strict_mode = false, new_line = '\n',
        max_line_size = 16777216) with ordinality
),

parsed as (
    select
        object_key,
        line_no,
        line,
        case when strlen(line) <= $max_line_bytes and json_valid(line) then json_transform(line, '{
            "schema_version": "JSON", "type": "JSON", "request_id": "VARCHAR", "ts": "VARCHAR",
            "user_id": "VARCHAR",
            "model_version": "VARCHAR", "prompt": {"prefix": "VARCHAR", "suffix": "VARCHAR"},
            "completion": "VARCHAR", "latency_ms": "JSON", "arm": "VARCHAR"
        }') end as j,
        strlen(line) - strlen(replace(line, '"user_id"', '')) > 9
            or strlen(line) - strlen(replace(line, '"request_id"', '')) > 12 as has_twin_keys
    from lines
),

checked as (
    select
        object_key,
        line_no,
        line,
        j.request_id,
        j.user_id,
        timezone('UTC', try_cast(j.ts as timestamptz)) as ts,
        j.model_version,
        j.prompt.prefix as prompt_prefix,
        j.prompt.suffix as prompt_suffix,
        j.completion,
        j.arm,
        case when json_type(j.latency_ms) in ('UBIGINT', 'BIGINT', 'DOUBLE') then j.latency_ms::double end as latency_ms,
        coalesce(
            (j.schema_version is null or j.schema_version::varchar = '1')
            -- duplicate keys and non-finite numbers: see checked_client_lines.sql
            and not has_twin_keys
            and not (contains(line, 'NaN') or contains(line, 'Infinity'))
            and j.type is null
            and length(j.request_id) between 1 and 512
            and (j.user_id is null or length(j.user_id) between 1 and 512)
            and length(j.model_version) between 1 and 512
            and j.prompt.prefix is not null
            and j.prompt.suffix is not null
            and j.completion is not null
            and isfinite(case when json_type(j.latency_ms) in ('UBIGINT', 'BIGINT', 'DOUBLE') then j.latency_ms::double end)
            and (case when json_type(j.latency_ms) in ('UBIGINT', 'BIGINT', 'DOUBLE') then j.latency_ms::double end) >= 0
            and regexp_full_match(j.ts, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')
            and try_cast(j.ts as timestamptz) is not null,
            false
        ) as is_fast_ok
    from parsed
)

-- a fast-path line keeps no text: the columns hold all of it (ddl/raw.sql)
select * replace (case when not is_fast_ok then line end as line)
from checked
