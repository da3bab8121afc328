-- staging.refinements for one run day: the rows the extract walk settled (the temp table
-- _refinement_rows, filled by echo_ops.extract.writer), with the exact prompts joined back
-- from the aligned candidates: carried through Python, 2.5 kB a completion cost more than
-- the walk's bookkeeping. The edit distance is computed here, once, in DuckDB.
with

settled as (
    select * from _refinement_rows
),

aligned as (
    select ds, completion_id, prompt_prefix, prompt_suffix
    from staging.int_completions_aligned_to_events
),

joined as (
    select
        -- keys
        r.ds,
        r.completion_id,
        r.request_id,
        r.user_id,
        r.session_id,
        r.doc_uri,
        r.language_id,
        r.model_version,
        -- when shown
        r.shown_ds,
        r.shown_at,
        -- what the model saw and proposed
        a.prompt_prefix,
        a.prompt_suffix,
        r.proposal_text,
        -- what the person did
        r.accepted_text,
        r.accept_kind,
        r.outcome,
        r.final_text,
        r.settled_reason,
        r.settled_at,
        r.touching_edits,
        r.trajectory_json::json as trajectory_json,
        -- measures
        levenshtein(r.proposal_text, r.final_text) as edit_distance,
        r.kept_rate,
        r.accepted_retained_chars,
    from settled as r
    left join aligned as a
        on a.ds = r.ds and a.completion_id = r.completion_id
)

select * from joined
