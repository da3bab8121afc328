-- The events extraction walks: every event of a document with a candidate completion,
-- from its last full text (opened/snapshot) at or before the earliest shown version on
-- (else from that version), deduplicated across landing days, in walk order.
-- Ingest flattened the first change, so Python parses no JSON for a one-change edit.
-- Full texts are read only for their line count: regions are tracked in position space,
-- and the count is what tells a position past the document's end (settle.Document).
with

docs as (
    select * from _cand_docs where shard = $shard  -- one shard's (echo_ops.extract.plan)
),

full_texts as (
    select c.doc_no, max(e.doc_version) as version
    from staging.stg_telemetry__editor_events as e
    join docs as c on c.session_id = e.session_id and c.doc_uri = e.doc_uri
    where e.ds between $lo and $ds and e.doc_version <= c.min_version
        and e.event_type in ('document.opened', 'document.snapshot')
    group by c.doc_no
),

events as (
    select e.*, c.doc_no
    from staging.stg_telemetry__editor_events as e
    join docs as c on c.session_id = e.session_id and c.doc_uri = e.doc_uri
    left join full_texts as f on f.doc_no = c.doc_no
    where e.ds between $lo and $ds and e.doc_version >= coalesce(f.version, c.min_version)
),

-- A copy that also landed on an earlier day of the window is dropped (ingest already
-- deduplicated within a day). An anti-join: a window over event_id costs 3-4x more.
first_copies as (
    select * from events as e
    where not exists (
        select 1 from events as p
        where p.doc_no = e.doc_no and p.event_id = e.event_id and p.ds < e.ds
    )
)

select
    doc_no,  -- the candidate document (an integer is cheaper to hand to Python than two strings)
    event_type,
    doc_version,
    epoch(event_at) as ts_s,
    ds - date '1970-01-01' as day_number,
    completion_id,
    -- the first change (all an edit usually holds)
    change_start_line,
    change_start_character,
    change_end_line,
    change_end_character,
    change_text,
    -- every change, only when there are several
    case when change_count > 1 then (payload -> '$.changes')::varchar end as changes_json,
    coalesce(accepted_text, reject_reason) as detail,
    accept_kind,
    -- a full text's lines, as LSP counts them (\r\n, \r and \n each end one)
    case when event_type in ('document.opened', 'document.snapshot') then
        len(regexp_split_to_array(payload ->> '$.text', '\r\n|\r|\n'))
    end as line_count,
from first_copies
order by doc_no, doc_version, event_type <> 'document.changed', event_at, event_id
