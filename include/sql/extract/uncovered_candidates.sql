-- The merge's completeness check for run day $ds: every aligned candidate has exactly one
-- decision in temp table _decisions (the plan's skips and every shard's walk, read from
-- Parquet by echo_ops.extract.merge), and no decision names a completion that is not a
-- candidate. Any row here is a lost or doubled completion.
with

candidates as (
    select completion_id from staging.int_completions_aligned_to_events where ds = $ds
),

decided as (
    select completion_id, count(*) as decisions from _decisions group by completion_id
)

select
    coalesce(c.completion_id, d.completion_id) as completion_id,
    coalesce(d.decisions, 0) as decisions,
from candidates as c
full outer join decided as d on d.completion_id = c.completion_id
where c.completion_id is null or d.decisions is distinct from 1
order by completion_id
