-- Raw layer: one row per unique event of a landing day: typed columns, plus the event's
-- JSON text wherever the typed columns do not hold all of it.
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
    -- The event as delivered (JSON text, validated at ingest), except for a plain edit
    -- (document.changed with one change: 97% of a day), whose every v1 field has a column
    -- below; storing those lines again was most of ingest's cost. Fields beyond v1 on such
    -- an edit stay in the landing object (object_key, line_no). VARCHAR: a JSON column
    -- would parse every line once more on insert.
    payload varchar,
    -- flattened for extraction (the first change; any others stay in payload)
    change_count bigint,
    change_start_line bigint,
    change_start_character bigint,
    change_end_line bigint,
    change_end_character bigint,
    change_text varchar,
    accepted_text varchar,
    accept_kind varchar,
    reject_reason varchar,
    client_name varchar,
    client_version varchar
);

-- Warehouses made before payload became optional (ALTERs are no-ops once applied; the
-- JSON -> VARCHAR change of payload is echo_ops.ingest._payload_as_text).
alter table raw.client_events alter column payload drop not null;
alter table raw.client_events add column if not exists client_name varchar;
alter table raw.client_events add column if not exists client_version varchar;

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
    -- the request as delivered (JSON text) when it failed the fast path but passed the
    -- JSON Schema; null when the columns above hold every v1 field (see client_events)
    payload varchar
);

alter table raw.server_events alter column payload drop not null;
-- the A/B arm that served the request (control | treatment); null outside an experiment
-- (the server assigns the arm from the user id, so it logs both)
alter table raw.server_events add column if not exists arm varchar;
-- who asked, when the server says (optional in v1): erasure finds requests never shown
alter table raw.server_events add column if not exists user_id varchar;

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
