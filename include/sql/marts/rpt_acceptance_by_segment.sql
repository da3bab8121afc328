-- Acceptance per day, model version, arm, language and client: where a model is taken and
-- where it is not. Keyed by the fact's day. Requests are not here: a request never shown
-- has no document, so no language; accepted per request is in marts.rpt_arm_user_daily.
with

completions as (

    -- keyed by the day they were shown, whichever run extracted them
    select * exclude (ds), shown_ds as ds from marts.fct_completions
    where shown_ds = $ds

),

final as (

    select
        ---------- keys
        ds,
        model_version,
        coalesce(arm, 'none') as arm,
        coalesce(language_id, 'unknown') as language_id,
        coalesce(client, 'echo') as client,

        ---------- volume
        count(*) as shown_count,
        count(*) filter (where is_accepted) as accepted_count,
        count(*) filter (where outcome = 'partial_accepted') as partial_accepted_count,

        ---------- rates and what stayed
        round(count(*) filter (where is_accepted) / count(*), 4) as acceptance_rate,
        coalesce(sum(accepted_retained_chars) filter (where is_accepted), 0) as accepted_retained_chars

    from completions
    group by all

)

select * from final
