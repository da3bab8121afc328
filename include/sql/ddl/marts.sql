-- Mart tables exist before their first refresh so analysts' queries never fail on a fresh warehouse.
create table if not exists marts.fct_completions (
    ds date, completion_id varchar, user_id varchar, model_version varchar, language_id varchar,
    outcome varchar, accept_kind varchar, is_accepted boolean, is_kept_verbatim boolean,
    settled_reason varchar, proposal_chars bigint, final_chars bigint,
    accepted_retained_chars bigint, edit_distance bigint, kept_rate double, shown_at timestamp
);

alter table marts.fct_completions add column if not exists arm varchar;

-- Per day, arm, model version and person: what the A/B compares (echo_ops.flywheel_metrics).
create table if not exists marts.rpt_arm_user_daily (
    ds date, arm varchar, model_version varchar, user_id varchar, request_count bigint,
    shown_count bigint, accepted_count bigint, accepted_retained_chars bigint
);

create table if not exists marts.rpt_daily_acceptance (
    ds date, model_version varchar, shown_count bigint, accepted_count bigint,
    kept_verbatim_count bigint, acceptance_rate double, avg_kept_rate double,
    accepted_retained_chars bigint
);

-- Which client a completion came from: Echo's collector, or an imported assistant log
-- (docs/imports.md). Added, not declared above, so warehouses made before keep working.
alter table marts.fct_completions add column if not exists client varchar;
alter table marts.fct_completions add column if not exists client_version varchar;
alter table marts.fct_completions add column if not exists adapter_version varchar;
alter table marts.fct_completions add column if not exists decision varchar;
alter table marts.rpt_daily_acceptance add column if not exists client varchar;

-- Issue 16's marts (include/sql/marts/*.sql and their .yml say grain and day key).
create table if not exists marts.rpt_refinement_funnel (
    ds date, model_version varchar, arm varchar, outcome varchar, completion_count bigint,
    share_of_shown double, avg_edit_distance double, avg_kept_rate double
);

create table if not exists marts.rpt_serving_distributions (
    ds date, model_version varchar, request_count bigint, latency_ms_p50 double,
    latency_ms_p90 double, latency_ms_p99 double, shown_count bigint, edit_distance_p50 double,
    edit_distance_p90 double, proposal_chars_p50 double, proposal_chars_p90 double
);

create table if not exists marts.rpt_pipeline_accounting (
    ds date, stage varchar, rows_in bigint, rows_out bigint, quarantined bigint,
    deferred bigint, unaccounted bigint
);

create table if not exists marts.rpt_acceptance_by_segment (
    ds date, model_version varchar, arm varchar, language_id varchar, client varchar,
    shown_count bigint, accepted_count bigint, partial_accepted_count bigint,
    acceptance_rate double, accepted_retained_chars bigint
);

-- The day a completion was shown: acceptance marts are keyed by it (docs/marts.md).
alter table marts.fct_completions add column if not exists shown_ds date;
