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

-- Continue's nextEditWithHistory clusters linked to an accepted completion, only where file,
-- time and overlap make the link unambiguous (echo_ops.adapters.continue_next_edit): the
-- completion's text after the edit, with the link's provenance and a confidence.
create table if not exists staging.imported_refinements (
    ds date,  -- the UTC day the completion was accepted
    completion_id varchar,
    client varchar,
    proposal_text varchar,  -- the accepted text
    final_text varchar,  -- its region after the edit cluster
    confidence double,  -- 0..1, heuristic (docs/imports.md)
    gap_s double,  -- seconds from the accept to the cluster
    link_method varchar,
    source_file varchar,  -- the nextEditWithHistory file and line
    source_line bigint,
    adapter_version varchar
);
