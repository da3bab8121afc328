-- Editor telemetry renamed and typed: a view over raw.client_events, so a landing day's
-- rows are exactly its raw partition (no copy to keep in sync). Grain: one event per
-- landing day; a copy that also landed on an earlier day is removed downstream, where
-- the lookback window is known.
create or replace view staging.stg_telemetry__editor_events as
with

source as (
    select * from raw.client_events
),

renamed as (
    select
        -- keys
        ds,
        event_id,
        -- what happened
        type as event_type,
        ts as event_at,
        -- who and where
        user_id,
        session_id,
        doc_uri,
        doc_version,
        language_id,
        position_encoding,
        -- completion links
        completion_id,
        request_id,
        -- the event
        payload,
        change_count,
        change_start_line,
        change_start_character,
        change_end_line,
        change_end_character,
        change_text,
        accepted_text,
        accept_kind,
        reject_reason,
        -- which client sent it; events converted from another assistant's log say which
        -- (echo_ops.adapters, docs/imports.md), null for Echo's own collector
        client_name,
        client_version,
        payload ->> '$.import.source' as import_source,
        payload ->> '$.import.adapter_version' as import_adapter_version,
    from source
)

select * from renamed
