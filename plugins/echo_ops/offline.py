"""Offline estimate of the online result: candidate vs champion replayed on the same
held-out recent requests, under each model's serving gate, plus a fixed regression set.

The estimator (docs/metrics.md, "The offline estimate"). Each held-out request is a
completion people were shown on a recent day, in a file the training set never saw
(training.examples split = eval: grouped by file and decontaminated), with the text the
person settled on at the cursor (the refinement's final text). Each model serves the
request exactly as the editor would (`echo_ops.generate`: line-aligned prompt, token
healing, editor stops, token floor) and its proposal is shown when it passes the model's
gate. A shown proposal counts as accepted when the settled text starts with it (the
person kept it whole), else with its first line (a line accept), else with its first word
(a word accept), and its retained characters are the part that stayed. Nothing here reads
the simulator: it is what a production log holds, and it is paired (both models on the
same requests), so the difference is measured far more precisely than either level.
Its blind spots: an accept that the person then edited (it needs the proposal to be
near, not a prefix) is counted as a reject, and requests the serving model did not show
have no settled text to replay. The per-promotion record of this estimate beside the
online result that followed says how well it predicts (the flywheel reports both).

Regression set: fixed fill-in-the-middle examples from the base corpus (the standard
library by default), the same for every model; a candidate whose loss there rises beyond
`train.regression_max_loss_rise` has forgotten the language for the team's code.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.config import Settings
from echo_ops.prompt import line_example
from echo_ops.train import Example

_WORD = re.compile(r"[ \t]*(?:\w+|[^\w\s])")


def load_replay_rows(
    con: duckdb.DuckDBPyConnection, first: str, last: str, limit: int
) -> list[dict[str, Any]]:
    """Held-out requests of the window's days (eval split), in a fixed order: up to
    `limit`, spread over files by a hash so one long file cannot fill the set."""
    rows = con.execute(
        "select example_id, doc_uri, prefix, suffix, target from training.examples "
        "where split = 'eval' and source = 'refinement' and ds between ? and ? "
        "order by hash(example_id), example_id limit ?",
        [first, last, limit],
    ).fetchall()
    keys = ("example_id", "doc_uri", "prefix", "suffix", "target")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def load_calibration_requests(
    con: duckdb.DuckDBPyConnection, first: str, last: str, limit: int
) -> list[dict[str, Any]]:
    """Logged requests of the window, shown or not (include/sql/training/
    calibration_requests.sql): the traffic a show gate is calibrated on. Shaped as replay
    rows with no settled text, so `replay` gives their confidences."""
    from echo_ops.warehouse import read_sql

    rows = con.execute(
        read_sql("training/calibration_requests"), {"first": first, "last": last, "limit": limit}
    ).fetchall()
    return [{"example_id": r, "doc_uri": None, "prefix": p, "suffix": s, "target": ""}
            for r, p, s in rows]  # fmt: skip


def judge(proposal: str, settled: str) -> tuple[bool, int]:
    """(accepted, retained characters) of a shown proposal against the settled text."""
    if not proposal:
        return False, 0
    if settled.startswith(proposal):
        return True, len(proposal)
    cut = proposal.find("\n") + 1
    if 0 < cut < len(proposal) and settled.startswith(proposal[:cut]):
        return True, cut
    word = _WORD.match(proposal)
    if word and word.group(0).strip() and settled.startswith(word.group(0)):
        return True, len(word.group(0))
    return False, 0


def replay(model_dir: Path, model_id: str, rows: list[dict], settings: Settings, memory=None):
    """Per request: (confidence, accepted, retained chars) of the model's served proposal
    (before the gate: `gated` applies one); `memory`: texts of the team's code that
    `echo_ops.memory` mixes in at `train.memory_weight`."""
    from echo_ops.generate import model_proposer
    from echo_ops.simulate.proposers import Proposal, confidence

    proposer = model_proposer(model_dir, model_id, settings)
    if memory is not None:
        from echo_ops.memory import team_memory

        proposer.memory = team_memory(memory, proposer.tokenizer, settings.train.memory_min_match)
    out = []
    batch = max(1, settings.train.replay_batch)
    # batches, on all the process's threads: a batch's prompts are enough work for each
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        answers = proposer.propose_many([(r["prefix"], r["suffix"]) for r in chunk])
        for r, (text, logprobs) in zip(chunk, answers, strict=True):
            conf = confidence(Proposal(text, tuple(logprobs))) if text else 0.0
            out.append((conf, *judge(text, r["target"])))
    return out


def gated(served: list[tuple[float, bool, int]], gate: float) -> list[tuple[bool, bool, int]]:
    """(shown, accepted, retained chars) per request when the editor shows at `gate`."""
    return [(c > 0 and c >= gate, c > 0 and c >= gate and a, n if c > 0 and c >= gate else 0)
            for c, a, n in served]  # fmt: skip


def calibrated_gate(confidences: list[float], show_rate: float) -> float:
    """The gate at which a model shows `show_rate` of the requests (its top confidences):
    production systems tune how often they suggest; every arm gets this same procedure."""
    ranked = sorted((c for c in confidences if c > 0), reverse=True)
    k = round(show_rate * len(confidences))
    if k <= 0 or not ranked:
        return 1.0
    return ranked[min(k, len(ranked)) - 1]


def estimate(per_request: list[tuple[bool, int, int]]) -> dict[str, float]:
    """The metrics users feel over replayed requests: (shown, accepted, retained chars) each."""
    from echo_ops.abtest import metrics_from_totals

    totals = (sum(r[i] for r in per_request) for i in range(3))
    return metrics_from_totals(len(per_request), *totals)


def paired_bootstrap(
    cand: list, champ: list, groups: list[str], metric: str, n_boot: int, seed: int
) -> dict[str, Any]:
    """Candidate - champion on `metric`, with a 95% interval from resampling files (the
    split's unit): both models always get the same resampled requests."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    keys = sorted(by_group)
    rng = random.Random(seed)
    diffs = []
    for _ in range(n_boot if keys else 0):
        idx = [i for _ in keys for i in by_group[rng.choice(keys)]]
        a = estimate([cand[i] for i in idx])[metric]
        b = estimate([champ[i] for i in idx])[metric]
        diffs.append(a - b)
    diffs.sort()
    point = estimate(cand)[metric] - estimate(champ)[metric]
    ci = (
        [diffs[int(0.025 * len(diffs))], diffs[min(len(diffs) - 1, int(0.975 * len(diffs)))]]
        if len(diffs) >= 20
        else [float("-inf"), float("inf")]
    )
    return {"metric": metric, "diff": point, "ci": ci, "files": len(keys)}


def regression_examples(settings: Settings, n: int) -> list[Example]:
    """A fixed set of `n` FIM examples from the base corpus, in the served whole-line shape."""
    from echo_ops.bootstrap import corpus_fim_examples
    from echo_ops.corpus import corpus_texts, default_corpus

    corpus = Path(settings.train.corpus_dir or default_corpus("base"))
    texts = [t for _, t in corpus_texts(corpus, 400_000)]
    rows = [ex for _, ex in corpus_fim_examples(texts, 20261207, chunk_chars=600)]
    rows = random.Random(7).sample(rows, min(n, len(rows)))
    return [Example(*line_example(ex.prefix, ex.suffix, ex.target)) for ex in rows]
