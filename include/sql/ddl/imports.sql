-- Imports of open assistants' own logs (echo_ops.adapters, docs/imports.md).

-- One row per source file imported: its bytes' sha256 is the idempotency key (a file with
-- the same bytes is never converted twice), with what it became.
create table if not exists ops.import_files (
    source varchar not null,  -- continue | tabby
    object_key varchar not null,  -- the file: a landing key or a local path
    sha256 varchar not null,
    size_bytes bigint not null,
    lines bigint,
    events bigint,  -- v1 events written to the landing zone (client + server)
    quarantined bigint,  -- lines refused (ops.quarantine, stage import)
    days varchar,  -- landing days its events went to, comma-separated
    counts_json json,  -- everything counted: skipped chat completions, duplicates, late accepts
    adapter_version varchar not null,
    imported_at timestamp not null default current_timestamp
);

-- One row per imported completion shown on ds, with the assistant's own decision
-- (include/sql/intermediate/int_imported_completions_decided.sql).
create table if not exists staging.int_imported_completions_decided (
    ds date, completion_id varchar, user_id varchar, model_version varchar,
    language_id varchar, client varchar, client_version varchar, adapter_version varchar,
    decision varchar, accept_kind varchar, is_accepted boolean, proposal_chars bigint,
    accepted_chars bigint, has_server boolean, shown_at timestamp
);
