-- Acceptance and retention per day and model version: the number the flywheel moves.
with

completions as (

    select * from marts.fct_completions
    where ds = $ds

),

final as (

    select
        ---------- keys
        ds,
        model_version,

        ---------- volume
        count(*) as shown_count,
        count(*) filter (where is_accepted) as accepted_count,
        count(*) filter (where is_kept_verbatim) as kept_verbatim_count,

        ---------- rates
        round(count(*) filter (where is_accepted) / count(*), 4) as acceptance_rate,
        round(avg(kept_rate) filter (where is_accepted), 4) as avg_kept_rate,
        sum(accepted_retained_chars) as accepted_retained_chars

    from completions
    group by ds, model_version

)

select * from final
