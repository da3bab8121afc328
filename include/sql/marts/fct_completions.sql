-- One row per completion shown, with its outcome and how much of it survived.
with

refinements as (

    select * from staging.refinements
    where ds = $ds

),

-- the arm that served each request (A/B runs; null otherwise), from the server log
arms as (

    select request_id, any_value(arm) as arm
    from staging.stg_model_server__completions
    where request_id in (select request_id from refinements)
    group by request_id

),

final as (

    select
        ---------- keys
        ds,
        completion_id,
        user_id,
        model_version,
        language_id,

        ---------- outcome
        outcome,
        accept_kind,
        outcome in ('accepted_kept', 'accepted_refined', 'partial_accepted') as is_accepted,
        outcome = 'accepted_kept' as is_kept_verbatim,
        settled_reason,

        ---------- sizes
        length(proposal_text) as proposal_chars,
        length(final_text) as final_chars,
        accepted_retained_chars,
        edit_distance,
        kept_rate,

        ---------- time
        shown_at,

        ---------- experiment
        arms.arm

    from refinements
    left join arms using (request_id)

)

select * from final
