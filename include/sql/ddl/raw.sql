-- Raw layer: one row per unique event of a landing day, typed columns plus the whole event.
-- Written only by echo_ops.ingest, one day's partition at a time.

-- Editor telemetry: one row per unique event_id within the landing day `ds`.
create table if not exists raw.client_events (
    ds date not null,  -- landing day (collector's partition), not the client clock
    event_id varchar not null,
    type varchar not null,
    ts timestamp not null,  -- client clock, converted to UTC
    user_id varchar not null,
    session_id varchar not null,
    doc_uri varchar,
    doc_version bigint,
    language_id varchar,
    position_encoding varchar not null,  -- utf-16 unless the client said otherwise
    completion_id varchar,
    request_id varchar,
    object_key varchar not null,
    line_no bigint not null,
    -- the event as delivered: JSON text, validated at ingest. VARCHAR, because a JSON
    -- column would parse every line once more on insert (the costliest step of ingest).
    payload varchar not null,
    -- flattened from payload for extraction (the first change; the rest stay in payload)
    change_count bigint,
    change_start_line bigint,
    change_start_character bigint,
    change_end_line bigint,
    change_end_character bigint,
    change_text varchar,
    accepted_text varchar,
    accept_kind varchar,
    reject_reason varchar
);

-- Model-server log: one row per unique request_id within the landing day `ds`.
create table if not exists raw.server_events (
    ds date not null,
    request_id varchar not null,
    ts timestamp not null,
    model_version varchar not null,
    prompt_prefix varchar not null,
    prompt_suffix varchar not null,
    completion varchar not null,
    latency_ms double not null,
    object_key varchar not null,
    line_no bigint not null,
    payload varchar not null  -- the request as delivered (JSON text, validated at ingest)
);

-- Per landing day and source: what ingest read and what it kept (the dedup counts).
create table if not exists ops.ingest_summary (
    ds date not null,
    source varchar not null,  -- client | server
    objects bigint not null,
    lines bigint not null,  -- every line read, blank ones included
    valid bigint not null,  -- lines that parsed and met the v1 schema
    duplicates bigint not null,  -- valid lines whose key was already loaded that day
    loaded bigint not null,  -- rows in the raw partition
    quarantined bigint not null
);
