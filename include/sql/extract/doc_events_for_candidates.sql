-- The events extraction walks: every event of a document with a candidate completion,
-- from the earliest shown version on, deduplicated across landing days, flattened so
-- Python parses no JSON for the common one-change edit, in walk order.
-- Full texts (opened/snapshot) are not read: regions are tracked in position space.
with

events as (
    select e.*
    from staging.stg_telemetry__editor_events as e
    join _cand_docs as c on c.session_id = e.session_id and c.doc_uri = e.doc_uri
    where e.ds between $lo and $ds and e.doc_version >= c.min_version
    qualify row_number() over (partition by e.event_id order by e.ds) = 1
),

flattened as (
    select
        *,
        case when event_type = 'document.changed' then json_extract(payload, [
            '$.changes[0].range.start.line', '$.changes[0].range.start.character',
            '$.changes[0].range.end.line', '$.changes[0].range.end.character',
            '$.changes[0].text', '$.changes[1]'
        ]) end as f
    from events
)

select
    session_id,
    doc_uri,
    event_id,
    event_type,
    doc_version,
    epoch(event_at) as ts_s,
    ds - date '1970-01-01' as day_number,
    completion_id,
    -- the first change (all an edit usually holds)
    f[1]::bigint as start_line,
    f[2]::bigint as start_character,
    f[3]::bigint as end_line,
    f[4]::bigint as end_character,
    f[5] ->> '$' as change_text,
    -- every change, only when there are several
    case when f[6] is not null then (payload -> '$.changes')::varchar end as changes_json,
    case event_type
        when 'completion.accepted' then payload ->> '$.accepted_text'
        when 'completion.rejected' then payload ->> '$.reason'
    end as detail,
    payload ->> '$.accept_kind' as accept_kind,
from flattened
order by session_id, doc_uri, doc_version, event_type <> 'document.changed', event_at, event_id
