"""Evaluate a candidate against the champion on the SAME held-out set.

Metrics per model: target loss and perplexity on up to `eval_max_examples` held-out
examples (training.examples, split = eval, refinements only; the target is the cursor's
whole line, as the model is served: `prompt.line_example`), and exact match / edit
similarity of greedy FIM completions on the first `eval_generate_examples` of them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.config import Settings, TrainSettings
from echo_ops.errors import DataError
from echo_ops.logs import stage_run
from echo_ops.prompt import line_example
from echo_ops.train import Example


class EvalDataError(DataError):
    """There is no held-out data to judge a candidate on."""


def load_eval_set(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """The held-out set: deterministic (ordered by example_id), the same for every model."""
    rel = con.execute(
        "select example_id, prefix, suffix, target from training.examples "
        "where split = 'eval' and source = 'refinement' order by example_id limit ?",
        [limit],
    )
    return [
        dict(zip(("example_id", "prefix", "suffix", "target"), r, strict=True))
        for r in rel.fetchall()
    ]


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein(a, b) / max(len): 1.0 identical, 0.0 nothing in common."""
    if a == b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b), 1)


def score_model(
    model_dir: Path, rows: list[dict[str, Any]], cfg: TrainSettings
) -> dict[str, float]:
    """Target loss / perplexity on all rows, exact match / edit similarity on the first few."""
    import torch
    import torch.nn.functional as F

    from echo_ops.generate import ModelProposer
    from echo_ops.prompt import IGNORE_INDEX
    from echo_ops.train import _rows

    # the editor's line stops, but no token floor: quality is scored on whole proposals
    proposer = ModelProposer(
        model_dir, cfg.device, cfg.max_new_tokens, max_lines=cfg.max_proposal_lines
    )
    model, tokenizer = proposer.model, proposer.tokenizer
    seq = min(cfg.seq_len, getattr(model.config, "max_position_embeddings", cfg.seq_len))
    examples = [Example(*line_example(r["prefix"], r["suffix"], r["target"])) for r in rows]
    unpacked = cfg.model_copy(update={"packing": False, "seq_len": seq})
    x, y, _ = (t.to(proposer.device) for t in _rows(tokenizer, examples, unpacked, False))
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], cfg.batch_size):
            logits = model(input_ids=x[i : i + cfg.batch_size]).logits[:, :-1].float()
            labels = y[i : i + cfg.batch_size, 1:]
            ce = F.cross_entropy(
                logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
            )
            total += ce.item()
            count += int((labels != IGNORE_INDEX).sum())
    loss = total / max(count, 1)
    gen_rows = rows[: cfg.eval_generate_examples]
    outputs = [proposer.propose(r["prefix"], r["suffix"])[0] for r in gen_rows]
    exact = sum(o.strip() == r["target"].strip() for o, r in zip(outputs, gen_rows, strict=True))
    sims = [edit_similarity(o, r["target"]) for o, r in zip(outputs, gen_rows, strict=True)]
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "target_tokens": count,
            "exact_match": exact / max(len(gen_rows), 1), "edit_similarity": sum(sims) / max(len(sims), 1),
            "n_examples": len(rows), "n_generated": len(gen_rows)}  # fmt: skip


def evaluate_candidate(
    con: duckdb.DuckDBPyConnection, candidate_id: str, settings: Settings
) -> dict[str, Any]:
    """Score the candidate and the champion on the same eval set; store both in the
    candidate's metrics (registry.models) and `eval_report.json` beside it. Re-runnable."""
    from echo_ops.registry import (
        champion,
        fetch_model_dir,
        get_model,
        update_metrics,
        write_artifact_json,
    )

    cfg = settings.train
    with stage_run("evaluate", candidate=candidate_id) as counts:
        rows = load_eval_set(con, cfg.eval_max_examples)
        if not rows:
            raise EvalDataError(
                "no held-out examples (training.examples split = eval): cannot judge a candidate"
            )
        candidate, champ = get_model(con, candidate_id), champion(con)
        if champ is None:
            raise EvalDataError(
                "no champion to compare with: bootstrap or register a base model first"
            )
        report = {
            "candidate_id": candidate_id, "champion_id": champ.model_id,
            "eval_example_ids": [r["example_id"] for r in rows],
            "candidate": score_model(fetch_model_dir(candidate, settings), rows, cfg),
            "champion": score_model(fetch_model_dir(champ, settings), rows, cfg),
            "config": settings.train.model_dump(),
        }  # fmt: skip
        update_metrics(
            con, candidate_id, {"eval": report["candidate"], "champion_eval": report["champion"]}
        )
        report["report_uri"] = write_artifact_json(
            candidate, "eval_report.json", report, settings.storage
        )
        counts.update(examples=len(rows), candidate_loss=report["candidate"]["loss"],
                      champion_loss=report["champion"]["loss"])  # fmt: skip
        return report
