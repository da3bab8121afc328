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
    from echo_ops.generate import ModelProposer

    # the editor's line stops, but no token floor: quality is scored on whole proposals
    proposer = ModelProposer(
        model_dir, cfg.device, cfg.max_new_tokens, max_lines=cfg.max_proposal_lines
    )
    examples = [Example(*line_example(r["prefix"], r["suffix"], r["target"])) for r in rows]
    loss, count = target_loss(proposer, examples, cfg)
    gen_rows = rows[: cfg.eval_generate_examples]
    outputs = [proposer.propose(r["prefix"], r["suffix"])[0] for r in gen_rows]
    exact = sum(o.strip() == r["target"].strip() for o, r in zip(outputs, gen_rows, strict=True))
    sims = [edit_similarity(o, r["target"]) for o, r in zip(outputs, gen_rows, strict=True)]
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "target_tokens": count,
            "exact_match": exact / max(len(gen_rows), 1), "edit_similarity": sum(sims) / max(len(sims), 1),
            "n_examples": len(rows), "n_generated": len(gen_rows)}  # fmt: skip


def target_loss(proposer, examples: list[Example], cfg: TrainSettings) -> tuple[float, int]:
    """Mean loss per target token of `examples` under the proposer's model, and the count."""
    import torch
    import torch.nn.functional as F

    from echo_ops.prompt import IGNORE_INDEX
    from echo_ops.train import _rows

    model, tokenizer = proposer.model, proposer.tokenizer
    seq = min(cfg.seq_len, getattr(model.config, "max_position_embeddings", cfg.seq_len))
    unpacked = cfg.model_copy(update={"packing": False, "seq_len": seq})
    x, y, _ = (t.to(proposer.device) for t in _rows(tokenizer, examples, unpacked, 0.0))
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
    return total / max(count, 1), count


def evaluate_candidate(
    con: duckdb.DuckDBPyConnection, candidate_id: str, settings: Settings
) -> dict[str, Any]:
    """Score the candidate and the champion on the same eval set; store both in the
    candidate's metrics (registry.models) and `eval_report.json` beside it. Re-runnable."""
    report = score_candidate(load_inputs(con, candidate_id, settings), settings)
    record_evaluation(con, report)
    return report


def load_inputs(
    con: duckdb.DuckDBPyConnection, candidate_id: str, settings: Settings
) -> dict[str, Any]:
    """Everything scoring reads from the warehouse (works on a read-only connection): the
    eval rows, both models' records and, for the guarded rule, the replayed requests."""
    from echo_ops.registry import champion, get_model

    rows = load_eval_set(con, settings.train.eval_max_examples)
    if not rows:
        raise EvalDataError(
            "no held-out examples (training.examples split = eval): cannot judge a candidate"
        )
    candidate, champ = get_model(con, candidate_id), champion(con)
    if champ is None:
        raise EvalDataError("no champion to compare with: bootstrap or register a base model first")
    inputs = {"rows": rows, "candidate": candidate, "champion": champ}
    if settings.train.promotion_rule == "guarded":
        inputs["offline"] = offline_inputs(con, candidate, champ, settings)
    return inputs


def score_candidate(inputs: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Score both models on the loaded inputs (no warehouse); the report, with the metrics
    to record, is saved as `eval_report.json` beside the candidate's artifacts."""
    from echo_ops.registry import fetch_model_dir, write_artifact_json

    cfg, rows = settings.train, inputs["rows"]
    candidate, champ = inputs["candidate"], inputs["champion"]
    with stage_run("evaluate", candidate=candidate.model_id) as counts:
        report = {
            "candidate_id": candidate.model_id, "champion_id": champ.model_id,
            "eval_example_ids": [r["example_id"] for r in rows],
            "candidate": score_model(fetch_model_dir(candidate, settings), rows, cfg),
            "champion": score_model(fetch_model_dir(champ, settings), rows, cfg),
            "config": settings.train.model_dump(),
        }  # fmt: skip
        metrics = {"eval": report["candidate"], "champion_eval": report["champion"]}
        if "offline" in inputs:
            report["offline"] = offline_scores(inputs["offline"], candidate, champ, settings)
            metrics["offline"] = report["offline"]
            if report["offline"]["serving"]:  # served with its calibrated gate if promoted
                metrics["serving"] = report["offline"]["serving"]
        report["metrics"] = metrics
        report["report_uri"] = write_artifact_json(
            candidate, "eval_report.json", report, settings.storage
        )
        if "offline" in report:
            primary = report["offline"]["primary"]
            counts.update(offline_metric=primary["metric"], offline_diff=primary["diff"],
                          offline_ci=primary["ci"])  # fmt: skip
        counts.update(examples=len(rows), candidate_loss=report["candidate"]["loss"],
                      champion_loss=report["champion"]["loss"])  # fmt: skip
        return report


def record_evaluation(con: duckdb.DuckDBPyConnection, report: dict[str, Any]) -> None:
    """Store a report's metrics in the candidate's registry row (the short write step)."""
    from echo_ops.registry import update_metrics

    update_metrics(con, report["candidate_id"], report["metrics"])


def _lineage_root(con, record):
    """The model a lineage started from (the base the control arm is served)."""
    from echo_ops.registry import get_model

    while record.parent_id:
        record = get_model(con, record.parent_id)
    return record


def _confidences(record, requests: list[dict], settings: Settings) -> list[float]:
    """The confidence the model serves each request with (0 where it proposes nothing)."""
    from echo_ops.offline import replay
    from echo_ops.registry import fetch_model_dir

    return [c for c, _, _ in replay(fetch_model_dir(record, settings), record.model_id,
                                    requests, settings)]  # fmt: skip


def serving_gate(record, settings: Settings) -> float:
    """The show gate a model is served with: its calibrated one, else the configured one."""
    from echo_ops.registry import calibrated_gate_of

    gate = calibrated_gate_of(record)
    return settings.simulate.show_min_prob if gate is None else gate


def offline_comparison(con, candidate, champ, settings: Settings) -> dict[str, Any]:
    """Candidate vs champion on the window's held-out requests (replayed under each one's
    gate) and on the fixed regression set (echo_ops.offline); paired intervals by file."""
    return offline_scores(offline_inputs(con, candidate, champ, settings), candidate, champ,
                          settings)  # fmt: skip


def offline_inputs(con, candidate, champ, settings: Settings) -> dict[str, Any]:
    """What the offline comparison reads from the warehouse: the replayed requests and, to
    calibrate the candidate's gate, the logged requests and the lineage's base."""
    from echo_ops.offline import load_calibration_requests, load_replay_rows

    cfg, window = settings.train, candidate.data_window
    inputs = {"rows": load_replay_rows(con, window.get("from"), window.get("to"),
                                       cfg.replay_eval_examples)}  # fmt: skip
    if cfg.calibrate_gate:
        # the window's logged requests, shown or not: the replay rows are requests the
        # serving model already chose to show, so calibrating on them would aim at 100%
        inputs["asked"] = load_calibration_requests(con, window.get("from"), window.get("to"),
                                                    cfg.replay_eval_examples)  # fmt: skip
        inputs["root"] = _lineage_root(con, champ)
    return inputs


def offline_scores(inputs: dict[str, Any], candidate, champ, settings: Settings) -> dict[str, Any]:
    """The offline comparison on loaded inputs (offline_inputs); no warehouse."""
    from echo_ops.generate import ModelProposer
    from echo_ops.offline import (
        calibrated_gate,
        estimate,
        gated,
        paired_bootstrap,
        regression_examples,
        replay,
    )
    from echo_ops.registry import fetch_model_dir

    cfg, rows = settings.train, inputs["rows"]
    served, regression = {}, {}
    reg_rows = regression_examples(settings, cfg.regression_examples)
    for name, record in (("candidate", candidate), ("champion", champ)):
        model_dir = fetch_model_dir(record, settings)
        served[name] = replay(model_dir, record.model_id, rows, settings)
        proposer = ModelProposer(model_dir, cfg.device, cfg.max_new_tokens)
        regression[name] = target_loss(proposer, reg_rows, cfg)[0]
    gates = {
        "candidate": serving_gate(candidate, settings),
        "champion": serving_gate(champ, settings),
    }
    serving = None
    if cfg.calibrate_gate:  # the candidate shows as often as the lineage's base does
        asked, root = inputs["asked"], inputs["root"]
        root_conf = _confidences(root, asked, settings)
        root_gate = serving_gate(root, settings)
        target = sum(c > 0 and c >= root_gate for c in root_conf) / max(len(asked), 1)
        gates["candidate"] = calibrated_gate(_confidences(candidate, asked, settings), target)
        serving = {"show_min_prob": gates["candidate"], "target_show_rate": target,
                   "reference_model": root.model_id, "calibration_requests": len(asked)}  # fmt: skip
    runs = {name: gated(served[name], gates[name]) for name in served}
    groups = [r["doc_uri"] or r["example_id"] for r in rows]
    tests = {
        m: paired_bootstrap(
            runs["candidate"], runs["champion"], groups, m, cfg.bootstrap_samples, cfg.seed
        )  # fmt: skip
        for m in ("acceptance", "accepted_per_request", "retained_chars_per_request")
    }
    return {
        "requests": len(rows),
        "candidate": estimate(runs["candidate"]),
        "champion": estimate(runs["champion"]),
        "gates": gates,
        "serving": serving,
        "tests": tests,
        "primary": tests[cfg.promote_metric],
        "regression": {"candidate_loss": regression["candidate"],
                       "champion_loss": regression["champion"], "examples": len(reg_rows)},
    }  # fmt: skip
