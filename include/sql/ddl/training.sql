-- Training layer: what the fine-tune stage reads (docs/contracts.md). Built in Python
-- (echo_ops.datasets) because redaction and dedup are Python, one partition per day.

-- One row per training or evaluation example, with lineage back to its refinement.
create table if not exists training.examples (
    ds date not null,  -- the day whose build wrote this row
    example_id varchar not null,
    source varchar not null,  -- refinement | replay | base_corpus
    refinement_id varchar,  -- = staging.refinements.completion_id, null for base corpus
    origin_ds date,  -- the day the refinement was extracted (replay rows point back)
    user_id varchar,
    doc_uri varchar,
    outcome varchar,
    prefix varchar not null,
    suffix varchar not null,
    target varchar not null,
    weight double not null,  -- per-token loss weight (train.outcome_weights)
    split varchar not null,  -- train | eval
    scanned_by varchar  -- the secret detector (echo_ops.safety.detector_version) that redacted it
);
alter table training.examples add column if not exists scanned_by varchar;

-- Final text preferred over the rejected proposal: input to an optional DPO step.
create table if not exists training.preference_pairs (
    ds date not null,
    pair_id varchar not null,
    refinement_id varchar not null,
    user_id varchar,
    doc_uri varchar,
    prefix varchar not null,
    suffix varchar not null,
    chosen varchar not null,  -- the settled final text
    rejected varchar not null,  -- the model's proposal
    split varchar not null
);
