-- The refinement funnel: how the day's shown completions ended, per model version and arm.
-- Keyed by the day the completions were shown (marts.fct_completions.shown_ds). Outcomes as
-- docs/contracts.md defines them; imported clients' own decisions (docs/imports.md) appear
-- as their outcomes.
with

completions as (

    -- keyed by the day they were shown, whichever run extracted them
    select * exclude (ds), shown_ds as ds from marts.fct_completions
    where shown_ds = $ds

),

by_outcome as (

    select
        ds,
        model_version,
        coalesce(arm, 'none') as arm,
        outcome,
        count(*) as completion_count,
        round(avg(edit_distance), 2) as avg_edit_distance,
        round(avg(kept_rate), 4) as avg_kept_rate
    from completions
    group by all

),

final as (

    select
        ---------- keys
        ds,
        model_version,
        arm,
        outcome,

        ---------- volume
        completion_count,
        round(
            completion_count / sum(completion_count) over (partition by ds, model_version, arm), 4
        ) as share_of_shown,

        ---------- how far people moved the text
        avg_edit_distance,
        avg_kept_rate

    from by_outcome

)

select * from final
