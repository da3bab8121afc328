-- Per arm and person, summed over a range of mart days ($first .. $last), for the
-- treatment arm only the rows a given model served ($treatment_model; null = any).
select
    arm,
    user_id,
    sum(request_count) as request_count,
    sum(shown_count) as shown_count,
    sum(accepted_count) as accepted_count,
    sum(accepted_retained_chars) as accepted_retained_chars
from marts.rpt_arm_user_daily
where ds between $first and $last
    and (arm = 'control' or $treatment_model is null or model_version = $treatment_model)
group by arm, user_id
order by arm, user_id
