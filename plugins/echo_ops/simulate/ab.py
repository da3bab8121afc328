"""Did the promoted model raise the acceptance rate? The same simulated day served twice.

`acceptance_ab(ds)` simulates day `ds` once per model (default: the previous champion,
then the current one) with the same seed, people, sessions, files and holes (each
document draws from its own seeded rng, see run.py), the same fixed gate
(`simulate.show_min_prob`) and serving settings (`train.token_min_prob`), and compares

- acceptance = accepted / shown (the issue's rate), and
- accepted per request (the gate shows a better model more often, so this one counts
  every trigger),

with a two-proportion z-test and a 95% confidence interval on each difference.
Writes `{data_root}/ab/ds=D/<model_id>/{landing,truth}` (a landing zone per model, so
the pipeline can ingest an arm too); reads registry.models. Re-run safe.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from echo_ops.config import Settings
from echo_ops.simulate.run import simulate_days


def ab_models(settings: Settings) -> tuple[str, str]:
    """(previous champion, current champion): the latest archived model that was once
    promoted, as `registry.rollback` would restore it."""
    from echo_ops.registry import RegistryError, champion
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(settings) as con:
        current = champion(con)
        row = con.execute(
            "select model_id from registry.models where status = 'archived' "
            "and promoted_at is not null order by promoted_at desc, model_id desc limit 1"
        ).fetchone()
    if current is None or row is None:
        raise RegistryError("the A/B needs a champion and an earlier one: promote a model first")
    return row[0], current.model_id


def arm_dir(settings: Settings, ds: date, model_id: str) -> Path:
    return settings.data_root / "ab" / f"ds={ds.isoformat()}" / model_id


def simulate_arm(
    ds: date, model_id: str, *, users: int, seed: int | None, workers: int | None,
    settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    """One arm: day `ds` served by `model_id`; its summary counts (truth summary.json)."""
    root = arm_dir(settings, ds, model_id)
    storage = settings.storage.model_copy(update={"truth_dir": root / "truth"})
    arm_settings = settings.model_copy(update={"storage": storage})
    result = simulate_days(
        ds, 1, seed=seed, users=users, proposer="model", model_id=model_id,
        landing_uri=str(root / "landing"), workers=workers, settings=arm_settings,
    )  # fmt: skip
    summary = json.loads((root / "truth" / f"ds={ds.isoformat()}" / "summary.json").read_text())
    counts = summary["counts"]
    return {
        "model_id": model_id,
        "requests": counts.get("requests", 0),
        "shown": counts.get("shown", 0),
        "accepted": counts.get("accepted", 0),
        "acceptance_rate": summary["acceptance_rate"],
        "accepted_per_request": _rate(counts.get("accepted", 0), counts.get("requests", 0)),
        "seconds": result["seconds"],
        "landing": str(root / "landing"),
    }


def two_proportions(x1: int, n1: int, x2: int, n2: int, z: float = 1.96) -> dict[str, float]:
    """p2 - p1 with Newcombe's 95% interval (from Wilson intervals: sound with few or no
    successes, where the Wald interval collapses) and the pooled two-sided z-test p-value."""
    p1, p2 = _rate(x1, n1), _rate(x2, n2)
    (l1, u1), (l2, u2) = _wilson(x1, n1, z), _wilson(x2, n2, z)
    diff = p2 - p1
    pooled = _rate(x1 + x2, n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if n1 and n2 else 0.0
    zstat = diff / se0 if se0 else 0.0
    return {
        "diff": diff,
        "ci_low": diff - math.hypot(p2 - l2, u1 - p1),
        "ci_high": diff + math.hypot(u2 - p2, p1 - l1),
        "z": zstat,
        "p_value": math.erfc(abs(zstat) / math.sqrt(2)),
    }


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    if not n:
        return 0.0, 1.0  # nothing observed: any rate
    p, z2 = x / n, z * z
    mid = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return mid - half, mid + half


def verdict(test: dict[str, float]) -> str:
    if test["ci_low"] > 0:
        return "raised"
    if test["ci_high"] < 0:
        return "lowered"
    return "no measurable change (the 95% interval holds 0)"


def acceptance_ab(
    ds: date, *, model_a: str | None = None, model_b: str | None = None, users: int = 2,
    seed: int | None = None, workers: int | None = None, settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    """Serve day `ds` with model A (default: previous champion) and B (default: the
    champion); their counts, the differences B - A and whether B raised acceptance."""
    if model_a is None or model_b is None:
        prev, cur = ab_models(settings)
        model_a, model_b = model_a or prev, model_b or cur
    arms = [
        simulate_arm(ds, m, users=users, seed=seed, workers=workers, settings=settings)
        for m in (model_a, model_b)
    ]
    a, b = arms
    shown = two_proportions(a["accepted"], a["shown"], b["accepted"], b["shown"])
    per_request = two_proportions(a["accepted"], a["requests"], b["accepted"], b["requests"])
    return {
        "ds": ds.isoformat(),
        "users": users,
        "gate": {
            "show_min_prob": settings.simulate.show_min_prob,
            "token_min_prob": settings.train.token_min_prob,
        },
        "a": a,
        "b": b,
        "acceptance": {**shown, "verdict": verdict(shown)},
        "accepted_per_request": {**per_request, "verdict": verdict(per_request)},
    }


def _rate(x: int, n: int) -> float:
    return x / n if n else 0.0
