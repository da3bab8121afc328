-- Data-quality history: every check of each day's latest run of each suite (ops.dq_results),
-- so analysts see what was checked, on what sample, and what failed, without ops access.
-- Rebuilt whole on every refresh (a few dozen rows a day): a suite that ran after the
-- marts' refresh (the training set has its own branch) appears at the next refresh.
with

latest_runs as (

    select ds, suite, arg_max(run_id, checked_at) as run_id
    from ops.dq_results
    group by all

),

final as (

    select
        ---------- keys
        r.ds,
        r.suite,
        r.expectation,
        r.column_name,

        ---------- result
        r.severity,
        r.success,
        r.observed,
        r.sampled,
        r.checked_at,
        r.run_id

    from ops.dq_results as r
    join latest_runs as l using (ds, suite, run_id)

)

select * from final
order by ds, suite, expectation, column_name
