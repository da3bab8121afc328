-- Operational tables: what every stage records about itself.

-- One row per stage run: what it read, what it wrote, how it ended.
create table if not exists ops.run_log (
    run_id varchar not null,
    ds date,
    stage varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,  -- running | success | failed
    counts_json json,
    error varchar
);

-- Every record a stage refused, with where it came from and why; nothing is dropped silently.
create table if not exists ops.quarantine (
    ds date not null,
    stage varchar not null,  -- import | ingest | align | extract | quality | safety
    source varchar,  -- client | server
    object_key varchar,  -- landing object the record came from
    line_no bigint,  -- 1-based line in that object
    reason varchar not null,
    raw_text varchar,  -- capped copy of the record
    quarantined_at timestamp not null default current_timestamp
);

-- Every landing object ever loaded, so a re-delivered or changed object is noticed.
create table if not exists ops.manifest (
    ds date not null,
    source varchar not null,
    object_key varchar not null,
    size_bytes bigint not null,
    sha256 varchar not null,
    lines bigint,
    status varchar not null,  -- new | unchanged | changed
    loaded_at timestamp not null default current_timestamp
);

-- One row per expectation per run (Great Expectations and SQL checks alike).
create table if not exists ops.dq_results (
    run_id varchar not null,
    ds date,
    suite varchar not null,
    expectation varchar not null,
    column_name varchar,
    severity varchar not null,  -- blocking | warning
    success boolean not null,
    observed varchar,
    details_json json,
    sampled varchar,  -- what part of the data the check saw
    checked_at timestamp not null default current_timestamp
);

-- Training consent per user: an opted-out user contributes no training example.
create table if not exists ops.consent (
    user_id varchar primary key,
    opted_out boolean not null,
    updated_at timestamp not null default current_timestamp
);

-- One row per place a `forget` erased a user from, with how much it removed.
create table if not exists ops.erasure_audit (
    erasure_id varchar not null,
    user_id_hash varchar not null,  -- sha256 of the user id: the audit must not re-identify
    requested_by varchar not null,
    place varchar not null,  -- warehouse table, published copy, landing object, truth file
    rows_removed bigint not null,
    erased_at timestamp not null default current_timestamp
);
