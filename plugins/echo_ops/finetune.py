"""Fine-tune stage: the champion + the new window of training.examples -> a candidate.

`fine_tune` reads registry.models and training.examples (read-only, for seconds), trains
with `echo_ops.train.train` (GPU when present, CPU otherwise) and writes files only: the
candidate's HF directory in the artifact store and, beside it, `registration.json` (config,
data window, metrics, hardware, tokens/s). `register_candidate`, a short step inside the
writers' pool, adds it to registry.models (status candidate). The GPU task never holds the
warehouse's write lock, so the daily DAG can write meanwhile. A retry with `resume=True`
continues from the last checkpoint of the same run (same champion, same window).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.config import Settings
from echo_ops.errors import NoChampionError
from echo_ops.logs import stage_run
from echo_ops.prompt import line_example
from echo_ops.train import Example, train
from echo_ops.warehouse import is_read_only, open_warehouse, run_sql_file, table_exists

REGISTRATION = "registration.json"  # beside a staged candidate's artifacts


def new_data_window(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Days of training.examples the champion has not been trained on, and their counts."""
    from echo_ops.registry import champion

    if not is_read_only(con):
        run_sql_file(con, "ddl/training")
    elif not table_exists(con, "training.examples"):
        return {"champion_id": None, "from": None, "to": None, "new_examples": 0,
                "new_eval_examples": 0}  # fmt: skip
    champ = champion(con)
    after = (champ.data_window.get("to") if champ else None) or "0001-01-01"
    (first, last, n_new, n_eval) = con.execute(
        "select min(ds), max(ds), count(*) filter (where source = 'refinement' and split = 'train'), "
        "count(*) filter (where source = 'refinement' and split = 'eval') "
        "from training.examples where ds > cast(? as date)",
        [after],
    ).fetchone()
    return {
        "champion_id": champ.model_id if champ else None,
        "from": first,
        "to": last,
        "new_examples": int(n_new or 0),
        "new_eval_examples": int(n_eval or 0),
    }


def fine_tune_decision(
    window: dict[str, Any], min_new_examples: int, triggers: list[dict[str, Any]] = ()
) -> dict[str, Any]:
    """Whether echo_train fine-tunes now, and why (the window from `new_data_window`;
    `triggers`: the extras of the Asset events that started the run)."""
    if backfill_only(triggers):  # a backfill of N days must not fine-tune N times
        days = ", ".join(sorted(str(t.get("ds")) for t in triggers))
        go, reason = False, (f"only backfilled days triggered this run ({days}): the next "
                             "scheduled day's run, or a manual trigger, trains on them")  # fmt: skip
    elif window["champion_id"] is None:
        go, reason = False, "no champion to fine-tune: run `echo-ops bootstrap-model` once"
    elif window["new_examples"] < min_new_examples:
        go, reason = False, f"{window['new_examples']} new examples, need {min_new_examples}"
    elif window.get("new_eval_examples") == 0:  # a candidate nobody can judge: wait for data
        go, reason = False, "no held-out examples in the window yet (evaluation would fail)"
    else:
        go, reason = True, f"{window['new_examples']} new examples since {window['champion_id']}"
    return {**window, "fine_tune": go, "reason": reason}


def backfill_only(triggers: list[dict[str, Any]]) -> bool:
    """True when every training-set Asset event behind an echo_train run came from a backfill
    run of echo_daily (their extra says `backfill: true`); a manual run has no events."""
    return bool(triggers) and all(t.get("backfill") is True for t in triggers)


def fine_tune(settings: Settings, resume: bool = False, on_step=None) -> dict[str, Any]:
    """Train a candidate from the champion on the new window and stage it in the artifact
    store (files only: `register_candidate` adds its registry row); returns counts."""
    from echo_ops.registry import champion, fetch_model_dir

    with stage_run("fine_tune", resume=resume) as counts:
        if not settings.storage.warehouse_path.is_file():
            raise NoChampionError(
                f"no warehouse at {settings.storage.warehouse_path}, so no champion: run "
                "`echo-ops bootstrap-model` first"
            )
        with open_warehouse(settings, read_only=True) as con:
            window, champ = new_data_window(con), champion(con)
            if champ is None:
                raise NoChampionError(
                    "no champion in the registry: run `echo-ops bootstrap-model` first"
                )
            if window["to"] is None:
                raise ValueError(f"no training examples newer than {champ.model_id}'s data window")
            train_rows, eval_rows = _load_window(
                con, window["from"], window["to"], settings.train.eval_max_examples
            )
            pairs = (
                _load_pairs(con, window["from"], window["to"])
                if settings.train.dpo_steps > 0
                else []
            )
            key = f"{champ.model_id}:{window['from']}:{window['to']}"
            candidate_id = unique_candidate_id(con, f"ft-{window['to']:%Y%m%d}", key, resume)
        init_dir = fetch_model_dir(champ, settings)
        cfg = _fit_to_model(settings, init_dir)
        run_dir = settings.data_root / "train" / "runs" / candidate_id
        if not resume:
            shutil.rmtree(run_dir, ignore_errors=True)
        result = train(
            init_dir, run_dir, train_rows, eval_rows, cfg, resume=resume, on_step=on_step
        )
        metrics, model_dir = {"train": result.to_dict()}, result.model_dir
        if cfg.dpo_steps > 0 and pairs:
            from echo_ops.dpo import dpo_train

            model_dir = run_dir / "dpo"
            metrics["dpo"] = dpo_train(result.model_dir, model_dir, pairs, cfg)
        window = {"from": str(window["from"]), "to": str(window["to"]), "examples": len(train_rows)}
        artifact_uri = _stage_candidate(
            settings, candidate_id, champ.model_id, model_dir, window, metrics, cfg
        )
        counts.update(candidate_id=candidate_id, artifact_uri=artifact_uri,
                      examples=len(train_rows), steps=result.steps,
                      final_loss=result.final_loss, tokens_per_s=round(result.tokens_per_s, 1),
                      preference_pairs=len(pairs))  # fmt: skip
        return dict(counts)


def unique_candidate_id(
    con: duckdb.DuckDBPyConnection, stem: str, key: str, resume: bool = False
) -> str:
    """`stem-<hash of key>`, or `-2`, `-3`... when a model with that id is registered already.

    A second fine-tune on the same champion and window (after a rejection, or with other
    settings) must not overwrite the first one's files and registry row. A retry of a run
    that never registered gets the same id again, so `resume` finds its checkpoints; a
    resumed retry of a run that did register (and failed after) gets that undecided id."""
    base = f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"
    rows = con.execute(
        "select model_id, status from registry.models where model_id like ? "
        "order by length(model_id), model_id",
        [base + "%"],
    ).fetchall()
    taken = {r[0] for r in rows}
    if resume and rows and rows[-1][1] == "candidate":
        return rows[-1][0]
    n = 1
    while (candidate := base if n == 1 else f"{base}-{n}") in taken:
        n += 1
    return candidate


def _stage_candidate(settings, candidate_id, parent_id, model_dir: Path, window, metrics, cfg):
    """Save the resolved config beside the model, upload it, and leave the registry row's
    content beside it (`registration.json`); returns the artifact URI. Files only."""
    from echo_ops.registry import upload_model

    config = {"train": cfg.model_dump(), "parent_id": parent_id, "data_window": window}
    (model_dir / "echo_config.json").write_text(json.dumps(config, indent=2, default=str))
    record = {"model_id": candidate_id, "kind": "fine_tune", "parent_id": parent_id,
              "data_window": window, "metrics": metrics, "config": config}  # fmt: skip
    (model_dir / REGISTRATION).write_text(json.dumps(record, indent=2, default=str))
    return upload_model(model_dir, candidate_id, settings)


def register_candidate(
    con: duckdb.DuckDBPyConnection, candidate_id: str, settings: Settings
) -> dict[str, Any]:
    """Add a candidate `fine_tune` staged to registry.models (status candidate), from its
    `registration.json` in the artifact store. Re-running replaces the same row."""
    from echo_ops import storage
    from echo_ops.registry import insert_model, read_artifact_json

    artifact_uri = storage.join(settings.storage.artifacts_uri, candidate_id)
    record = read_artifact_json(artifact_uri, REGISTRATION, settings.storage)
    if record is None:
        raise FileNotFoundError(
            f"no {REGISTRATION} under {artifact_uri}: the fine_tune task did not finish staging "
            "this candidate (clear fine_tune)"
        )
    insert_model(con, artifact_uri=artifact_uri, **record)
    return {"candidate_id": candidate_id, "parent_id": record["parent_id"],
            "data_window": record["data_window"]}  # fmt: skip


def _load_pairs(con: duckdb.DuckDBPyConnection, first: date, last: date):
    from echo_ops.dpo import Pair

    rows = con.execute(
        "select prefix, suffix, chosen, rejected from training.preference_pairs "
        "where ds between ? and ? and split = 'train' order by ds, pair_id",
        [first, last],
    ).fetchall()
    return [Pair(*r) for r in rows]


def _load_window(con: duckdb.DuckDBPyConnection, first: date, last: date, eval_limit: int):
    query = ("select prefix, suffix, target, weight from training.examples where ds between ? and ? "
             "and split = ? order by ds, example_id")  # fmt: skip

    def examples(sql: str, params: list) -> list[Example]:
        # in the shape the model is served: the cursor's whole line is the middle
        rows = con.execute(sql, params).fetchall()
        return [Example(*line_example(p, s, t), w) for p, s, t, w in rows]

    train_rows = examples(query, [first, last, "train"])
    eval_rows = examples(query + " limit ?", [first, last, "eval", eval_limit])
    return train_rows, eval_rows


def _fit_to_model(settings: Settings, model_dir: Path):
    """The run's settings, with seq_len capped at what the model's positions allow."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    limit = (
        config.get("max_position_embeddings") or config.get("n_positions") or settings.train.seq_len
    )
    return settings.train.model_copy(update={"seq_len": min(settings.train.seq_len, int(limit))})
