-- Tables owned by align and extract (staging) and their bookkeeping (ops).

-- staging.stg_* are views: include/sql/staging/*.sql (created by echo_ops.ingest.ensure_tables).

create table if not exists staging.int_completions_aligned_to_events (
    ds date not null,  -- the run that considered this completion (a candidate may recur)
    completion_id varchar not null,
    request_id varchar not null,
    shown_ds date not null,
    shown_at timestamp not null,
    user_id varchar not null,
    session_id varchar not null,
    doc_uri varchar not null,
    language_id varchar,
    position_encoding varchar not null,
    shown_doc_version bigint not null,
    shown_line bigint not null,
    shown_character bigint not null,
    proposal_text varchar not null,
    item_start_line bigint not null,
    item_start_character bigint not null,
    accepted_doc_version bigint,
    accepted_text varchar,
    accept_kind varchar,
    accepted_at timestamp,
    decision_ds date,
    rejected_reason varchar,
    rejected_at timestamp,
    server_ds date,
    model_version varchar,
    prompt_prefix varchar,
    prompt_suffix varchar,
    server_completion varchar,
    has_server boolean not null,
    server_matches_proposal boolean
);

create table if not exists staging.refinements (
    ds date not null,  -- the run that extracted it (the first day its data was complete)
    completion_id varchar not null,
    request_id varchar not null,
    user_id varchar not null,
    session_id varchar not null,
    doc_uri varchar not null,
    language_id varchar,
    model_version varchar,
    shown_ds date not null,
    shown_at timestamp not null,
    prompt_prefix varchar,
    prompt_suffix varchar,
    proposal_text varchar not null,
    accepted_text varchar,
    accept_kind varchar,
    outcome varchar not null,
    final_text varchar not null,
    settled_reason varchar not null,  -- quiet | saved | closed | horizon
    settled_at timestamp not null,
    touching_edits bigint not null,
    trajectory_json json not null,
    edit_distance bigint not null,
    kept_rate double not null,
    accepted_retained_chars bigint not null
);

-- Completions a run could not settle yet (data not ingested yet); a later run retries them.
create table if not exists ops.extract_deferrals (
    ds date not null,
    completion_id varchar not null,
    shown_ds date not null,
    reason varchar not null,  -- waiting_for_server | doc_version_gap | horizon_not_covered
    expires_ds date not null  -- the run that quarantines it if still unsettled
);

-- One row per run day: completions shown that day split into what happened to them.
create table if not exists ops.extract_accounting (
    ds date not null,
    shown bigint not null,  -- completion.shown events first landed that day (deduplicated)
    extracted bigint not null,  -- of those, extracted by this run
    deferred bigint not null,  -- of those, left for a later run
    quarantined bigint not null,  -- of those, quarantined by this run
    unaccounted bigint not null,  -- shown - extracted - deferred - quarantined (must be 0)
    quarantined_by_reason_json json not null,
    carried_extracted bigint not null,  -- shown earlier, extracted by this run
    carried_quarantined bigint not null,  -- shown earlier, quarantined by this run
    carried_deferred bigint not null,  -- shown earlier, still deferred after this run
    ingest_quarantined_by_reason_json json not null  -- lines refused at ingest, for context
);
