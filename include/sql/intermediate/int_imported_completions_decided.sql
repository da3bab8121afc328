-- One row per completion imported from another assistant's log (echo_ops.adapters) and
-- shown on landing day $ds, with the assistant's own decision. Neither source records
-- the edits that follow, so there is no final text here: only what was shown, taken or
-- left (docs/imports.md). An adapter puts a completion's decisions in its shown day.
with

events as (
    select *
    from staging.stg_telemetry__editor_events
    where ds = $ds
        and import_source is not null
        and event_type in ('completion.shown', 'completion.accepted', 'completion.rejected')
    qualify row_number() over (partition by event_id order by ds) = 1
),

shown as (
    select
        completion_id,
        request_id,
        event_at as shown_at,
        user_id,
        language_id,
        import_source as client,
        client_version,
        import_adapter_version as adapter_version,
        payload ->> '$.items[0].insert_text' as proposal_text,
    from events
    where event_type = 'completion.shown'
    qualify row_number() over (partition by completion_id order by event_at, event_id) = 1
),

decisions as (
    select
        completion_id,
        -- Continue: a late accept writes a second line; the later outcome wins
        arg_max(event_type, (event_at, event_id)) as last_event_type,
        -- Tabby: a dismiss may only mean a newer request superseded it, so any select wins
        bool_or(event_type = 'completion.accepted') as any_accept,
        bool_or(event_type = 'completion.accepted' and accept_kind = 'full') as any_full_accept,
        bool_or(event_type = 'completion.rejected') as any_reject,
        max(length(accepted_text)) filter (where event_type = 'completion.accepted')
            as accepted_chars,
    from events
    where event_type in ('completion.accepted', 'completion.rejected')
    group by completion_id
),

server as (
    select request_id, model_version
    from staging.stg_model_server__completions
    -- a Tabby view links to a completion of its own or the previous day's file, never older
    where ds between $ds - interval 1 day and $ds
    qualify row_number() over (partition by request_id order by ds) = 1
),

decided as (
    select
        shown.*,
        server.model_version,
        server.request_id is not null as has_server,
        case
            when shown.client = 'tabby' and decisions.any_accept then 'accepted'
            when shown.client = 'tabby' and decisions.any_reject then 'dismissed'
            when decisions.last_event_type = 'completion.accepted' then 'accepted'
            when decisions.last_event_type = 'completion.rejected' then 'rejected'
            else 'undecided'
        end as decision,
        decisions.any_full_accept,
        decisions.accepted_chars,
    from shown
    left join decisions using (completion_id)
    left join server using (request_id)
),

final as (
    select
        ---------- keys
        $ds as ds,
        completion_id,
        user_id,
        coalesce(model_version, client || ':unknown') as model_version,
        language_id,

        ---------- where it came from
        client,
        client_version,
        adapter_version,

        ---------- what the person did
        decision,
        case
            when decision <> 'accepted' then null
            when any_full_accept then 'full'
            else 'line'
        end as accept_kind,
        decision = 'accepted' as is_accepted,

        ---------- sizes
        length(proposal_text) as proposal_chars,
        case when decision = 'accepted' then accepted_chars end as accepted_chars,
        has_server,

        ---------- time
        shown_at,
    from decided
)

select * from final
