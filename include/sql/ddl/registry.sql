-- The model registry: every model with lineage and status, exactly one champion.
create table if not exists registry.models (
    model_id varchar primary key,
    status varchar not null,  -- candidate | champion | rejected | archived
    parent_id varchar,  -- the model it was fine-tuned from
    artifact_uri varchar not null,  -- HF directory: local dir or s3://bucket/prefix/model_id
    data_window json,  -- {"from": ds, "to": ds, "examples": n}
    metrics_json json,
    config_json json,  -- resolved settings it was trained with
    created_at timestamp not null default current_timestamp,
    decided_reason varchar,  -- why it was promoted, rejected or archived
    decided_at timestamp,
    promoted_at timestamp,  -- last time it became champion (rollback order)
    kind varchar  -- bootstrap | fine_tune | registered
);

-- The champion each model replaced when it was promoted: rollback restores exactly that one.
alter table registry.models add column if not exists previous_champion_id varchar;
