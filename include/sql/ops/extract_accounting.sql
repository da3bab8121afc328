-- ops.extract_accounting for one run day ($ds): every completion first shown on $ds is
-- extracted, deferred or quarantined by this run (unaccounted must be 0), plus what the
-- run did with completions shown earlier. $lo is the start of the landing window the run
-- reads (ds - 2 x lookback): a shown event may also have landed earlier as a copy.
with

shown_events as (
    select completion_id, ds
    from staging.stg_telemetry__editor_events
    where event_type = 'completion.shown' and ds between $lo and $ds
),

shown_first_today as (
    select completion_id from shown_events group by completion_id having min(ds) = $ds
),

refined as (
    select shown_ds from staging.refinements where ds = $ds
),

deferred as (
    select shown_ds from ops.extract_deferrals where ds = $ds
),

quarantined as (
    select split_part(q.reason, ':', 1) as reason, a.shown_ds
    from ops.quarantine as q
    join staging.int_completions_aligned_to_events as a
        on a.ds = q.ds and q.object_key = 'completion:' || a.completion_id
    where q.ds = $ds and q.stage = 'extract'
),

quarantined_today_by_reason as (
    select coalesce(json_group_object(reason, n), '{}') as by_reason, coalesce(sum(n), 0) as n
    from (
        select reason, count(*) as n from quarantined where shown_ds = $ds group by 1 order by 1
    )
),

ingest_by_reason as (
    select coalesce(json_group_object(reason, n), '{}') as by_reason
    from (
        select split_part(reason, ':', 1) as reason, count(*) as n
        from ops.quarantine
        where ds = $ds and stage = 'ingest'
        group by 1 order by 1
    )
),

counts as (
    select
        $ds::date as ds,
        -- completions first shown today, by fate
        (select count(*) from shown_first_today) as shown,
        (select count(*) from refined where shown_ds = $ds) as extracted,
        (select count(*) from deferred where shown_ds = $ds) as deferred,
        (select n from quarantined_today_by_reason)::bigint as quarantined,
        (select by_reason from quarantined_today_by_reason)::json as quarantined_by_reason_json,
        -- completions shown earlier, decided by this run
        (select count(*) from refined where shown_ds < $ds) as carried_extracted,
        (select count(*) from quarantined where shown_ds < $ds) as carried_quarantined,
        (select count(*) from deferred where shown_ds < $ds) as carried_deferred,
        (select by_reason from ingest_by_reason)::json as ingest_quarantined_by_reason_json,
)

select
    ds,
    shown,
    extracted,
    deferred,
    quarantined,
    shown - extracted - deferred - quarantined as unaccounted,
    quarantined_by_reason_json,
    carried_extracted,
    carried_quarantined,
    carried_deferred,
    ingest_quarantined_by_reason_json,
from counts
