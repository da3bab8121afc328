-- Accepted-only positives from assistants' imported logs for day $ds (docs/imports.md):
-- full accepts, target = the proposal the model was sent the prompt for; where Continue's
-- nextEditWithHistory linked a cluster to the completion, its refined text and the link's
-- confidence. Tabby's line accepts are left out: how much was taken is not logged.
with

decided as (
    select * from staging.int_imported_completions_decided
    where ds = $ds and decision = 'accepted' and accept_kind = 'full'
),

shown as (
    select completion_id, request_id, doc_uri
    from staging.stg_telemetry__editor_events
    where ds = $ds and event_type = 'completion.shown' and import_source is not null
    qualify row_number() over (partition by completion_id order by event_at, event_id) = 1
),

server as (
    select request_id, prompt_prefix, prompt_suffix, completion_text
    from staging.stg_model_server__completions
    where ds between $ds - interval 1 day and $ds
    qualify row_number() over (partition by request_id order by ds) = 1
),

linked as (
    select completion_id, final_text, confidence
    from staging.imported_refinements
    qualify row_number() over (partition by completion_id order by source_file, source_line) = 1
),

final as (
    select
        decided.completion_id,
        decided.user_id,
        shown.doc_uri,
        case when linked.completion_id is null then 'imported_accepted' else 'imported_refined' end
            as outcome,
        server.prompt_prefix as prefix,
        server.prompt_suffix as suffix,
        coalesce(linked.final_text, server.completion_text) as target,
        server.completion_text as proposal_text,
        $ds as origin_ds,
        coalesce(linked.confidence, 1.0) as confidence,
        'imported' as source,
    from decided
    join shown using (completion_id)
    join server on server.request_id = shown.request_id
    left join linked using (completion_id)
)

select * from final
order by completion_id
