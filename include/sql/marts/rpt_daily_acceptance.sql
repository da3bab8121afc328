-- Acceptance and retention per day, model version and client: the number the flywheel
-- moves, with Echo's collector, Continue and Tabby side by side (docs/imports.md).
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

        ---------- volume
        count(*) as shown_count,
        count(*) filter (where is_accepted) as accepted_count,
        -- unknown (null) for imported logs: they never saw what happened after the accept
        case
            when count(is_kept_verbatim) > 0 then count(*) filter (where is_kept_verbatim)
        end as kept_verbatim_count,

        ---------- rates
        round(count(*) filter (where is_accepted) / count(*), 4) as acceptance_rate,
        round(avg(kept_rate) filter (where is_accepted), 4) as avg_kept_rate,
        sum(accepted_retained_chars) as accepted_retained_chars,

        ---------- where it came from
        coalesce(client, 'echo') as client

    from completions
    group by ds, model_version, coalesce(client, 'echo')

)

select * from final
