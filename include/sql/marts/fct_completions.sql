-- One row per completion shown, with its outcome and how much of it survived: Echo's own
-- collector (followed to its settled text) beside completions imported from Continue's
-- and Tabby's logs (their own decision only; docs/imports.md), told apart by `client`.
with

refinements as (

    select * from staging.refinements
    where ds = $ds

),

-- the arm that served each request (A/B runs; null otherwise), from the server log
arms as (

    select request_id, any_value(arm) as arm
    from staging.stg_model_server__completions
    where request_id in (select request_id from refinements)
    group by request_id

),

imported as (

    select * from staging.int_imported_completions_decided
    where ds = $ds

),

echo_collector as (

    select
        ---------- keys
        ds,
        completion_id,
        user_id,
        model_version,
        language_id,

        ---------- outcome
        outcome,
        accept_kind,
        outcome in ('accepted_kept', 'accepted_refined', 'partial_accepted') as is_accepted,
        outcome = 'accepted_kept' as is_kept_verbatim,
        settled_reason,

        ---------- sizes
        length(proposal_text) as proposal_chars,
        length(final_text) as final_chars,
        accepted_retained_chars,
        edit_distance,
        kept_rate,

        ---------- time
        shown_at,
        shown_ds,  -- the day it was shown: what acceptance marts are keyed by

        ---------- experiment
        arms.arm,

        ---------- where it came from
        'echo' as client,
        null::varchar as client_version,
        null::varchar as adapter_version,
        case
            when outcome in ('accepted_kept', 'accepted_refined', 'partial_accepted', 'accepted_deleted')
                then 'accepted'
            else 'rejected'
        end as decision

    from refinements
    left join arms using (request_id)

),

assistant_logs as (

    select
        ---------- keys
        ds,
        completion_id,
        user_id,
        model_version,
        language_id,

        ---------- outcome: the assistant's decision; what came after was never logged
        null::varchar as outcome,
        accept_kind,
        is_accepted,
        null::boolean as is_kept_verbatim,
        'imported' as settled_reason,

        ---------- sizes
        proposal_chars,
        null::bigint as final_chars,
        null::bigint as accepted_retained_chars,
        null::bigint as edit_distance,
        null::double as kept_rate,

        ---------- time
        shown_at,
        ds as shown_ds,  -- imported on the day it was shown

        ---------- experiment: imported logs were not served by an Echo arm
        null::varchar as arm,

        ---------- where it came from
        client,
        client_version,
        adapter_version,
        decision

    from imported

),

final as (

    select * from echo_collector
    union all by name
    select * from assistant_logs

)

select
    ds, completion_id, user_id, model_version, language_id, outcome, accept_kind, is_accepted,
    is_kept_verbatim, settled_reason, proposal_chars, final_chars, accepted_retained_chars,
    edit_distance, kept_rate, shown_at, arm, client, client_version, adapter_version, decision,
    shown_ds
from final
