-- One landing day of editor telemetry, renamed and typed. Grain: one event per landing
-- day (raw already dropped same-day duplicates); a copy that landed on an earlier day too
-- is removed downstream, where the lookback window is known.
with

source as (
    select * from raw.client_events where ds = $ds
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
        payload,
    from source
)

select * from renamed
