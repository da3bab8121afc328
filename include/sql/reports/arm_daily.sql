-- Per mart day and arm: requests, shown, accepted, acceptance, and the models that served.
select
    ds,
    arm,
    string_agg(distinct model_version, ',' order by model_version) as model_versions,
    sum(request_count) as request_count,
    sum(shown_count) as shown_count,
    sum(accepted_count) as accepted_count,
    round(sum(accepted_count) / nullif(sum(shown_count), 0), 4) as acceptance_rate
from marts.rpt_arm_user_daily
group by ds, arm
order by ds, arm
