-- Requests, shown, accepted and accepted-and-retained characters per day, arm, model
-- version and person: the rows the A/B's metrics and their by-user intervals are built from.
-- Requests come from the server log (landing day ds: every request, shown or not),
-- completions from the day's extracted refinements (fct_completions, partition ds).
with

requests as (

    select
        arm,
        model_version,
        user_id,
        count(*) as request_count
    from staging.stg_model_server__completions
    where ds = $ds and arm is not null
    group by all

),

shown as (

    select
        arm,
        model_version,
        user_id,
        count(*) as shown_count,
        count(*) filter (where is_accepted) as accepted_count,
        coalesce(sum(accepted_retained_chars) filter (where is_accepted), 0) as accepted_retained_chars
    from marts.fct_completions
    where shown_ds = $ds and arm is not null  -- the day shown, whichever run extracted it
    group by all

),

final as (

    select
        ---------- keys
        $ds as ds,
        arm,
        model_version,
        user_id,

        ---------- volume
        coalesce(requests.request_count, 0) as request_count,
        coalesce(shown.shown_count, 0) as shown_count,
        coalesce(shown.accepted_count, 0) as accepted_count,

        ---------- what stayed
        coalesce(shown.accepted_retained_chars, 0) as accepted_retained_chars

    from requests
    full outer join shown using (arm, model_version, user_id)

)

select * from final
