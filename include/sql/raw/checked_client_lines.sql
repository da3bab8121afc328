-- Every client line of the day parsed once (json_transform), with the fast-path verdict
-- `is_fast_ok`. Lines that fail it are judged by the JSON Schema in Python
-- (echo_ops.ingest), which has the last word and names the reason. Integers are read as
-- JSON leaves so that "7" or 1.5 never pass for a version or a position (strings are
-- read leniently: a number where the schema wants a string is the one laxity here).
-- One object at a time: echo_ops.ingest binds $key and $path.
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
            "schema_version": "JSON", "event_id": "VARCHAR", "type": "VARCHAR", "ts": "VARCHAR",
            "user_id": "VARCHAR", "session_id": "VARCHAR",
            "client": {"name": "VARCHAR", "version": "VARCHAR", "position_encoding": "VARCHAR"},
            "doc": {"uri": "VARCHAR", "version": "JSON", "language_id": "VARCHAR"},
            "completion_id": "VARCHAR", "request_id": "VARCHAR", "text": "VARCHAR",
            "changes": [{"range": {"start": {"line": "JSON", "character": "JSON"},
                                   "end": {"line": "JSON", "character": "JSON"}},
                         "text": "VARCHAR"}],
            "position": {"line": "JSON", "character": "JSON"},
            "items": [{"insert_text": "VARCHAR",
                       "range": {"start": {"line": "JSON", "character": "JSON"},
                                 "end": {"line": "JSON", "character": "JSON"}}}],
            "item_index": "JSON", "accepted_text": "VARCHAR", "accept_kind": "VARCHAR",
            "reason": "VARCHAR"
        }') end as j,
        -- "user_id" twice: which reader is right about whose event it is? (a key
        -- json_keys would count exactly, at twice the cost of this whole parse)
        strlen(line) - strlen(replace(line, '"user_id"', '')) > 9 as has_twin_keys
    from lines
),

typed as (
    select
        object_key,
        line_no,
        line,
        j,
        has_twin_keys,
        try_cast(j.ts as timestamptz) as ts_tz,
        case when json_type(j.doc.version) = 'UBIGINT' then j.doc.version::bigint end as doc_version,
        coalesce(
            len(j.changes) > 0
            and len(list_filter(j.changes, lambda c:
                c.text is not null
                and json_type(c.range.start.line) = 'UBIGINT'
                and json_type(c.range.start.character) = 'UBIGINT'
                and json_type(c.range.end.line) = 'UBIGINT'
                and json_type(c.range.end.character) = 'UBIGINT'
            )) = len(j.changes),
            false
        ) as are_changes_ok,
        coalesce(
            len(j.items) > 0
            and len(list_filter(j.items, lambda c:
                c.insert_text is not null
                and json_type(c.range.start.line) = 'UBIGINT'
                and json_type(c.range.start.character) = 'UBIGINT'
                and json_type(c.range.end.line) = 'UBIGINT'
                and json_type(c.range.end.character) = 'UBIGINT'
            )) = len(j.items)
            and json_type(j.position.line) = 'UBIGINT'
            and json_type(j.position.character) = 'UBIGINT',
            false
        ) as are_items_ok
    from parsed
),

checked as (
    select
        object_key,
        line_no,
        line,
        j.event_id,
        j.type,
        timezone('UTC', ts_tz) as ts,
        j.user_id,
        j.session_id,
        j.doc.uri as doc_uri,
        doc_version,
        j.doc.language_id as language_id,
        j.client.name as client_name,
        j.client.version as client_version,
        coalesce(j.client.position_encoding, 'utf-16') as position_encoding,
        j.completion_id,
        j.request_id,
        -- flattened for extraction, which then parses no JSON for a one-change edit
        len(j.changes) as change_count,
        try_cast(j.changes[1].range.start.line as bigint) as change_start_line,
        try_cast(j.changes[1].range.start.character as bigint) as change_start_character,
        try_cast(j.changes[1].range.end.line as bigint) as change_end_line,
        try_cast(j.changes[1].range.end.character as bigint) as change_end_character,
        j.changes[1].text as change_text,
        j.accepted_text,
        j.accept_kind,
        j.reason as reject_reason,
        coalesce(
            j.schema_version::varchar = '1'
            -- the contract refuses what readers disagree on (contract/jsonl.py): a key
            -- twice (DuckDB reads the first, Python the last) and numbers that are not
            -- finite. Here, cheaply: "user_id" twice, a NaN or Infinity anywhere (1e400
            -- fails the integer checks below); a line that only looks suspect (code that
            -- says NaN) goes to Python, which decides, for every key at every depth.
            and not has_twin_keys
            and not (contains(line, 'NaN') or contains(line, 'Infinity'))
            and length(j.event_id) between 1 and 512
            and length(j.user_id) between 1 and 512
            and length(j.session_id) between 1 and 512
            and length(j.client.name) between 1 and 512
            and length(j.client.version) between 1 and 512
            and length(j.doc.uri) between 1 and 512
            and length(j.doc.language_id) between 1 and 512
            and doc_version is not null
            and regexp_full_match(j.ts, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')
            and ts_tz is not null
            and (j.client.position_encoding is null or j.client.position_encoding in ('utf-16', 'utf-8', 'utf-32'))
            and case j.type
                when 'document.opened' then j.text is not null
                when 'document.snapshot' then j.text is not null
                when 'document.changed' then are_changes_ok
                when 'document.saved' then true
                when 'document.closed' then true
                when 'completion.shown' then length(j.completion_id) between 1 and 512
                    and length(j.request_id) between 1 and 512 and are_items_ok
                when 'completion.accepted' then length(j.completion_id) between 1 and 512
                    and json_type(j.item_index) = 'UBIGINT'
                    and length(j.accepted_text) > 0 and j.accept_kind in ('full', 'line', 'word')
                when 'completion.rejected' then length(j.completion_id) between 1 and 512
                    and j.reason in ('dismissed', 'typed_over')
                else false
            end,
            false
        ) as is_fast_ok
    from typed
),

-- A plain edit (one change, fast path) keeps no line: its every v1 field has a column,
-- and carrying 2M lines of JSON on to raw was most of ingest's time (ddl/raw.sql).
select * replace (
    case when not is_fast_ok or type <> 'document.changed' or change_count <> 1 then line end as line
)
from checked
