-- Training runs, evaluations, promotions and rollbacks with their reasons: one row per
-- model in the registry, its data window, the offline estimate promotion decided on
-- (docs/metrics.md) beside the online A/B result that followed. Rebuilt whole each refresh.
with

models as (

    select * from registry.models

),

final as (

    select
        ---------- keys
        model_id,
        kind,
        parent_id,
        previous_champion_id,

        ---------- decision
        status,
        decided_reason,
        status = 'rejected' and starts_with(decided_reason, 'rolled back') as is_rolled_back,
        created_at,
        decided_at,
        promoted_at,

        ---------- the data it learned from
        (data_window ->> '$.from')::date as window_from,
        (data_window ->> '$.to')::date as window_to,
        (data_window ->> '$.examples')::bigint as window_examples,

        ---------- offline estimate (candidate - champion on held-out recent requests)
        metrics_json -> '$.offline.primary' ->> '$.metric' as offline_metric,
        (metrics_json -> '$.offline.primary' ->> '$.diff')::double as offline_diff,
        (metrics_json -> '$.offline.primary' -> '$.ci' ->> 0)::double as offline_diff_ci_low,
        (metrics_json -> '$.offline.primary' -> '$.ci' ->> 1)::double as offline_diff_ci_high,
        (metrics_json -> '$.eval' ->> '$.loss')::double as eval_loss,
        (metrics_json -> '$.champion_eval' ->> '$.loss')::double as champion_eval_loss,

        ---------- online A/B while it served treatment (treatment - control acceptance)
        (metrics_json -> '$.online' ->> '$.from')::date as online_from,
        (metrics_json -> '$.online' ->> '$.to')::date as online_to,
        (metrics_json -> '$.online' -> '$.acceptance' ->> '$.diff')::double as online_acceptance_diff,
        (metrics_json -> '$.online' -> '$.acceptance' -> '$.diff_ci' ->> 0)::double
            as online_acceptance_diff_ci_low,
        (metrics_json -> '$.online' -> '$.acceptance' -> '$.diff_ci' ->> 1)::double
            as online_acceptance_diff_ci_high,
        (metrics_json -> '$.online' -> '$.treatment' ->> '$.shown')::bigint as online_shown_treatment,
        (metrics_json -> '$.online' -> '$.control' ->> '$.shown')::bigint as online_shown_control

    from models

)

select * from final
order by created_at, model_id
