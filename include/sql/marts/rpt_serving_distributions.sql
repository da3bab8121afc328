-- Latency and edit-distance distributions per day and model version: what serving costs
-- people in waiting (server log, every request of the landing day) and how far they moved
-- what they were shown (the completions shown that day). Quantiles are exact (quantile_cont).
with

requests as (

    select
        model_version,
        count(*) as request_count,
        quantile_cont(latency_ms, 0.5) as latency_ms_p50,
        quantile_cont(latency_ms, 0.9) as latency_ms_p90,
        quantile_cont(latency_ms, 0.99) as latency_ms_p99
    from staging.stg_model_server__completions
    where ds = $ds
    group by all

),

completions as (

    select
        model_version,
        count(*) as shown_count,
        quantile_cont(edit_distance, 0.5) as edit_distance_p50,
        quantile_cont(edit_distance, 0.9) as edit_distance_p90,
        quantile_cont(proposal_chars, 0.5) as proposal_chars_p50,
        quantile_cont(proposal_chars, 0.9) as proposal_chars_p90
    from marts.fct_completions
    where shown_ds = $ds
    group by all

),

final as (

    select
        ---------- keys
        $ds::date as ds,
        model_version,

        ---------- serving (server log)
        coalesce(requests.request_count, 0) as request_count,
        round(latency_ms_p50, 2) as latency_ms_p50,
        round(latency_ms_p90, 2) as latency_ms_p90,
        round(latency_ms_p99, 2) as latency_ms_p99,

        ---------- refinement (extracted completions)
        coalesce(completions.shown_count, 0) as shown_count,
        edit_distance_p50,
        edit_distance_p90,
        proposal_chars_p50,
        proposal_chars_p90

    from requests
    full outer join completions using (model_version)

)

select * from final
