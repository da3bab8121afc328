"""The training set builder: one day of refinements -> training.examples (+ preference pairs).

Target = the settled final text; each outcome has a loss weight; quality filters, redaction,
dedup, a file-grouped train/eval split and decontamination come from the shared safety and
dedup functions. Continual learning: a `replay_share` of each day's training rows replays
earlier days' examples and the base corpus, so a new day does not erase old skill.
Opted-out users (ops.consent) contribute nothing, today or in replay.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any

import duckdb

from echo_ops.config import Settings
from echo_ops.dedup import assign_split, decontaminate, dedup_examples
from echo_ops.errors import DataError
from echo_ops.logs import get_logger, stage_run
from echo_ops.safety import redact_text
from echo_ops.warehouse import replace_partition, run_sql_file, table_exists

# Fixed so a file lands on the same side of the split every day (no cross-day leakage).
SPLIT_SEED = 7
_COLUMNS = ["ds", "example_id", "source", "refinement_id", "origin_ds", "user_id", "doc_uri",
            "outcome", "prefix", "suffix", "target", "weight", "split"]  # fmt: skip
_PAIR_COLUMNS = ["ds", "pair_id", "refinement_id", "user_id", "doc_uri", "prefix", "suffix",
                 "chosen", "rejected", "split"]  # fmt: skip


class TrainingDataError(DataError):
    """The refinements cannot be turned into examples (they break docs/contracts.md)."""


def build_training_examples(
    con: duckdb.DuckDBPyConnection, ds: date, settings: Settings
) -> dict[str, int]:
    """Read staging.refinements (+ ops.consent, earlier training.examples); replace day `day`
    of training.examples and training.preference_pairs. Safe to re-run: same rows."""
    cfg = settings.train
    if not table_exists(con, "staging.refinements"):
        # A fresh warehouse (extract has never run): nothing to build, and no empty
        # training tables for downstream checks to trip over.
        get_logger("datasets").warning(
            "staging.refinements does not exist yet: no examples for %s", ds
        )
        return {"refinements": 0, "rows_out": 0, "preference_pairs": 0}
    run_sql_file(con, "ddl/training")
    with stage_run("datasets", ds=ds) as counts:
        refs = _load_refinements(con, ds)
        rows, filtered = _filter_and_weight(
            refs, cfg.outcome_weights, cfg.min_target_chars, cfg.max_target_chars
        )
        rows, secrets = _redact(rows, ("prefix", "suffix"), ("target",))
        rows, dedup = dedup_examples(rows)
        rows = assign_split(rows, cfg.eval_share, SPLIT_SEED)
        eval_rows = [r for r in rows if r["split"] == "eval"]
        train_rows, leaked = decontaminate(
            [r for r in rows if r["split"] == "train"], eval_rows + _earlier_eval(con, ds)
        )
        n_replay = round(len(train_rows) * cfg.replay_share / max(1e-9, 1 - cfg.replay_share))
        n_base = round(n_replay * cfg.replay_base_share)
        replay = _replay_rows(con, ds, n_replay - n_base)
        base = _base_corpus_rows(n_replay - len(replay), ds, settings)
        replay, _ = decontaminate(replay + base, eval_rows)
        examples = [_finish(r, ds) for r in eval_rows + train_rows + replay]
        n = _write(con, "training.examples", _COLUMNS, examples, ds)
        useful = [r for r in refs if cfg.outcome_weights.get(r["outcome"] or "", 0.0) > 0]
        pairs = _preference_pairs(useful, ds, cfg.eval_share) if cfg.preference_pairs else []
        n_pairs = _write(con, "training.preference_pairs", _PAIR_COLUMNS, pairs, ds)
        counts.update(
            refinements=len(refs), filtered=filtered, secret_targets_dropped=secrets,
            exact_dupes=dedup["exact_dupes"], near_dupes=dedup["near_dupes"], leaked=leaked,
            new_train=len(train_rows), new_eval=len(eval_rows), replay=sum(r["source"] == "replay" for r in replay),
            base_corpus=sum(r["source"] == "base_corpus" for r in replay), rows_out=n, preference_pairs=n_pairs,
        )  # fmt: skip
        return dict(counts)


_NEEDED = {"ds", "completion_id", "user_id", "doc_uri", "outcome", "prompt_prefix", "prompt_suffix",
           "final_text", "proposal_text"}  # fmt: skip


def _load_refinements(con: duckdb.DuckDBPyConnection, ds: date) -> list[dict[str, Any]]:
    cols = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = 'staging' and table_name = 'refinements'").fetchall()}  # fmt: skip
    if missing := sorted(_NEEDED - cols):
        raise TrainingDataError(
            f"staging.refinements lacks column(s) {', '.join(missing)} (docs/contracts.md)"
        )
    consent = _consent_table(con)
    rel = con.execute(
        f"""
        select r.completion_id, r.user_id, r.doc_uri, r.outcome, r.prompt_prefix as prefix,
               r.prompt_suffix as suffix, r.final_text as target, r.proposal_text, r.ds as origin_ds
        from staging.refinements r
        left join {consent} c on c.user_id = r.user_id
        where r.ds = $ds and not coalesce(c.opted_out, false)
        order by r.completion_id
        """,
        {"ds": ds},
    )
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _filter_and_weight(refs, weights: dict[str, float], min_chars: int, max_chars: int):
    """Keep refinements whose outcome has a positive weight and whose target is a plausible
    completion (not blank, not a paste); returns (rows, how many were filtered)."""
    kept = []
    for r in refs:
        w = weights.get(r["outcome"] or "", 0.0)
        target = r["target"] or ""
        if w <= 0 or not (min_chars <= len(target.strip()) and len(target) <= max_chars):
            continue
        kept.append({**r, "prefix": r["prefix"] or "", "suffix": r["suffix"] or "", "weight": w,
                     "source": "refinement", "refinement_id": r["completion_id"]})  # fmt: skip
    return kept, len(refs) - len(kept)


def _redact(rows, context_fields: tuple[str, ...], drop_fields: tuple[str, ...]):
    """Redact secrets in the context; drop a row whose target holds one (a model must never
    learn to emit a credential, nor a <REDACTED> marker). Returns (rows, dropped)."""
    out, dropped = [], 0
    for r in rows:
        if any(redact_text(r[f]).findings for f in drop_fields):
            dropped += 1
            continue
        out.append({**r, **{f: redact_text(r[f]).text for f in context_fields}})
    return out, dropped


def _earlier_eval(con: duckdb.DuckDBPyConnection, ds: date) -> list[dict[str, Any]]:
    rel = con.execute(
        "select prefix, suffix, target, doc_uri from training.examples where split = 'eval' and ds < $ds",
        {"ds": ds},
    )
    return [
        dict(zip(("prefix", "suffix", "target", "doc_uri"), r, strict=True)) for r in rel.fetchall()
    ]


def _consent_table(con: duckdb.DuckDBPyConnection) -> str:
    """ops.consent, or an empty stand-in before anyone has opted out (the table is lazy)."""
    if table_exists(con, "ops.consent"):
        return "ops.consent"
    return "(select null::varchar as user_id, false as opted_out)"


def _replay_rows(con: duckdb.DuckDBPyConnection, ds: date, n: int) -> list[dict[str, Any]]:
    """A deterministic sample of earlier days' refinement examples (users still consenting)."""
    if n <= 0:
        return []
    consent = _consent_table(con)
    rel = con.execute(
        f"""
        select e.example_id, e.refinement_id, e.origin_ds, e.user_id, e.doc_uri, e.outcome,
               e.prefix, e.suffix, e.target, e.weight
        from training.examples e
        left join {consent} c on c.user_id = e.user_id
        where e.ds < $ds and e.source = 'refinement' and e.split = 'train'
          and not coalesce(c.opted_out, false)
        order by md5(e.example_id || $salt)
        limit $n
        """,
        {"ds": ds, "salt": ds.isoformat(), "n": n},
    )
    names = [d[0] for d in rel.description]
    rows = [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    return [{**r, "source": "replay", "replay_of": r.pop("example_id")} for r in rows]


def _base_corpus_rows(n: int, ds: date, settings: Settings) -> list[dict[str, Any]]:
    """`n` FIM examples cut from the base corpus (the model's pretraining distribution)."""
    if n <= 0:
        return []
    from echo_ops.bootstrap import corpus_fim_examples
    from echo_ops.corpus import corpus_texts, default_corpus

    root = settings.train.corpus_dir or default_corpus("base")
    files = corpus_texts(root, max_bytes=400_000)
    rng = random.Random(f"{ds.isoformat()}:{settings.train.seed}")
    files = rng.sample(files, min(len(files), 20))
    names = [f"corpus://{p.relative_to(root).as_posix()}" for p, _ in files]
    texts = [text for _, text in files]
    pool = list(
        corpus_fim_examples(texts, rng.randrange(1 << 30), settings.train.seq_len * 3, names)
    )
    rows = []
    for name, ex in rng.sample(pool, min(n * 2, len(pool))):
        if len(rows) == n or redact_text(ex.target).findings or not ex.target.strip():
            continue
        rows.append({"source": "base_corpus", "refinement_id": None, "origin_ds": None, "user_id": None,
                     "doc_uri": name, "outcome": None, "prefix": redact_text(ex.prefix).text,
                     "suffix": redact_text(ex.suffix).text, "target": ex.target, "weight": 1.0})  # fmt: skip
    return rows


def _finish(row: dict[str, Any], ds: date) -> dict[str, Any]:
    """Give a row its lineage columns and a stable id (same inputs, same id)."""
    key = row.get("replay_of") or row.get("refinement_id") or f"{row['doc_uri']}:{row['target']}"
    example_id = hashlib.sha1(
        f"{row['source']}:{ds}:{key}:{row['prefix'][-200:]}".encode()
    ).hexdigest()[:20]
    split = row.get("split") if row["source"] == "refinement" else "train"
    origin = row.get("origin_ds") if row["source"] != "refinement" else ds
    return {
        **row,
        "ds": ds,
        "example_id": example_id,
        "split": split or "train",
        "origin_ds": origin,
    }


def _preference_pairs(
    refs: list[dict[str, Any]], ds: date, eval_share: float
) -> list[dict[str, Any]]:
    """(final text preferred over the proposal) where the person changed what was proposed."""
    pairs = []
    for r in refs:
        chosen, rejected = r["target"] or "", r["proposal_text"] or ""
        if not chosen.strip() or not rejected.strip() or chosen.strip() == rejected.strip():
            continue
        if redact_text(chosen).findings or redact_text(rejected).findings:
            continue
        pairs.append({"ds": ds, "pair_id": f"pp-{r['completion_id']}", "refinement_id": r["completion_id"],
                      "user_id": r["user_id"], "doc_uri": r["doc_uri"], "prefix": redact_text(r["prefix"] or "").text,
                      "suffix": redact_text(r["suffix"] or "").text, "chosen": chosen, "rejected": rejected})  # fmt: skip
    return assign_split(pairs, eval_share, SPLIT_SEED)


def _write(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict], ds: date
) -> int:
    import pandas as pd

    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    frame = frame.astype(object)  # keep None as NULL and let DuckDB cast to the table's types
    con.register("_echo_new_rows", frame)
    try:
        return replace_partition(con, table, f"select {', '.join(columns)} from _echo_new_rows", ds)
    finally:
        con.unregister("_echo_new_rows")
