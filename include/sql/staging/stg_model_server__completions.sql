-- One landing day of model-server requests, renamed and typed. Grain: one request per landing day.
with

source as (
    select * from raw.server_events where ds = $ds
),

renamed as (
    select
        -- keys
        ds,
        request_id,
        -- request
        ts as requested_at,
        model_version,
        prompt_prefix,
        prompt_suffix,
        -- response
        completion as completion_text,
        latency_ms,
    from source
)

select * from renamed
