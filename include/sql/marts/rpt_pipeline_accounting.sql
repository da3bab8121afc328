-- Pipeline accounting per landing day and stage: what came in, what went on, what was
-- quarantined or deferred. Identity: rows_in = rows_out + quarantined + deferred +
-- unaccounted, and unaccounted must be 0 (a non-zero value is a bug: extract fails its
-- task on it). ingest: landing lines (client + server) read; rows_out = raw rows loaded
-- (after de-duplication: a duplicate copy counts as loaded once). extract: completions
-- first shown that day (ops.extract_accounting). The training set has its own branch
-- and its checks in marts.rpt_dq_history.
with

ingest as (

    select
        'ingest' as stage,
        (select count(*) from raw.client_events where ds = $ds)
            + (select count(*) from raw.server_events where ds = $ds) as rows_out,
        (select count(*) from ops.quarantine where ds = $ds and stage = 'ingest') as quarantined,
        0 as deferred

),

extract as (

    select
        'extract' as stage,
        shown as rows_in,
        extracted as rows_out,
        quarantined,
        deferred
    from ops.extract_accounting
    where ds = $ds

),

stages as (

    select stage, rows_out + quarantined + deferred as rows_in, rows_out, quarantined, deferred
    from ingest
    union all
    select stage, rows_in, rows_out, quarantined, deferred
    from extract

),

final as (

    select
        ---------- keys
        $ds::date as ds,
        stage,

        ---------- the books
        rows_in,
        rows_out,
        quarantined,
        deferred,
        rows_in - rows_out - quarantined - deferred as unaccounted

    from stages

)

select * from final
