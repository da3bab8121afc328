-- Model-server requests renamed and typed: a view over raw.server_events.
-- Grain: one request per landing day.
create or replace view staging.stg_model_server__completions as
with

source as (
    select * from raw.server_events
),

renamed as (
    select
        -- keys
        ds,
        request_id,
        -- request
        ts as requested_at,
        model_version,
        arm,
        user_id,
        prompt_prefix,
        prompt_suffix,
        -- response
        completion as completion_text,
        latency_ms,
    from source
)

select * from renamed
