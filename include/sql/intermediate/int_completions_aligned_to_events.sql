-- The completions a run of day $ds considers: every completion shown in the lookback
-- window [$shown_lo, $ds], joined by request_id to the exact prompt the server saw.
-- Reads only landing days <= $ds, so a day's partition never depends on run order.
with

events as (
    -- completion events only: a window over every edit of the day would cost seconds
    select *
    from staging.stg_telemetry__editor_events
    where ds between $lo and $ds
        and event_type in ('completion.shown', 'completion.accepted', 'completion.rejected')
    qualify row_number() over (partition by event_id order by ds) = 1
),

shown as (
    select
        completion_id,
        request_id,
        ds as shown_ds,
        event_at as shown_at,
        user_id,
        session_id,
        doc_uri,
        language_id,
        position_encoding,
        doc_version as shown_doc_version,
        (payload ->> '$.position.line')::bigint as shown_line,
        (payload ->> '$.position.character')::bigint as shown_character,
        payload ->> '$.items[0].insert_text' as proposal_text,
        (payload ->> '$.items[0].range.start.line')::bigint as item_start_line,
        (payload ->> '$.items[0].range.start.character')::bigint as item_start_character,
    from events
    where event_type = 'completion.shown' and ds >= $shown_lo
        -- imported from another assistant's log: no document events to follow (they are
        -- decided in int_imported_completions_decided instead)
        and import_source is null
    qualify row_number() over (partition by completion_id order by ds, event_at, event_id) = 1
),

accepted as (
    select
        completion_id,
        doc_version as accepted_doc_version,
        payload ->> '$.accepted_text' as accepted_text,
        payload ->> '$.accept_kind' as accept_kind,
        event_at as accepted_at,
        ds as accepted_ds,
    from events
    where event_type = 'completion.accepted'
    qualify row_number() over (partition by completion_id order by doc_version, event_at) = 1
),

rejected as (
    select
        completion_id,
        payload ->> '$.reason' as rejected_reason,
        event_at as rejected_at,
        ds as rejected_ds,
    from events
    where event_type = 'completion.rejected'
    qualify row_number() over (partition by completion_id order by doc_version, event_at) = 1
),

server as (
    select *
    from staging.stg_model_server__completions
    where ds between $lo and $ds
    qualify row_number() over (partition by request_id order by ds) = 1
),

aligned as (
    select
        $ds as ds,
        -- keys
        shown.completion_id,
        shown.request_id,
        -- what the editor showed
        shown.shown_ds,
        shown.shown_at,
        shown.user_id,
        shown.session_id,
        shown.doc_uri,
        shown.language_id,
        shown.position_encoding,
        shown.shown_doc_version,
        shown.shown_line,
        shown.shown_character,
        shown.proposal_text,
        shown.item_start_line,
        shown.item_start_character,
        -- what the person decided
        accepted.accepted_doc_version,
        accepted.accepted_text,
        accepted.accept_kind,
        accepted.accepted_at,
        coalesce(accepted.accepted_ds, rejected.rejected_ds) as decision_ds,
        rejected.rejected_reason,
        rejected.rejected_at,
        -- what the server generated
        server.ds as server_ds,
        server.model_version,
        server.prompt_prefix,
        server.prompt_suffix,
        server.completion_text as server_completion,
        server.request_id is not null as has_server,
        server.completion_text = shown.proposal_text as server_matches_proposal,
    from shown
    left join accepted using (completion_id)
    left join rejected using (completion_id)
    left join server using (request_id)
)

select * from aligned
