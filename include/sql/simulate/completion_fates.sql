-- The fate of every completion the simulator showed (the temp table _truth, loaded from
-- its truth file by echo_ops.simulate.score): extracted (with whether the final text and
-- the outcome match the truth), quarantined (at extract, or its shown line refused at
-- ingest), deferred (by the latest run), or unaccounted.
with
refined as (
    select completion_id, final_text, outcome from staging.refinements
    qualify row_number() over (partition by completion_id order by ds) = 1
),
deferred as (
    select distinct completion_id from ops.extract_deferrals
    where ds = (select max(ds) from ops.extract_deferrals)
),
quarantined as (
    select distinct replace(object_key, 'completion:', '') as completion_id
    from ops.quarantine where stage = 'extract'
),
ingest_refused as (
    select distinct t.completion_id
    from _truth t join ops.quarantine q
      on q.stage = 'ingest' and contains(q.raw_text, t.completion_id)
)
select
    t.completion_id,
    case
        when r.completion_id is not null then 'extracted'
        when q.completion_id is not null or i.completion_id is not null then 'quarantined'
        when d.completion_id is not null then 'deferred'
        else 'unaccounted'
    end,
    r.final_text is not distinct from t.final_text,
    r.outcome is not distinct from t.intended_outcome,
    r.final_text,
    t.final_text
from _truth t
left join refined r using (completion_id)
left join deferred d using (completion_id)
left join quarantined q using (completion_id)
left join ingest_refused i using (completion_id)
