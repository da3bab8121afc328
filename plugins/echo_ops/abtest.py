"""The A/B's numbers, computed from the marts (never from the simulator's truth).

Three metrics users feel, per arm (docs/metrics.md):
- acceptance = accepted / shown (the public report's 25.7% -> 35.7%);
- accepted per request (a model cannot win by showing less);
- accepted-and-retained characters per request (nor by proposing one character).
Each treatment / control ratio gets a 95% interval from a bootstrap that resamples
people (the randomisation unit: a person stays in one arm for the whole run), each arm
on its own, so a few heavy users cannot make the interval look tighter than it is.
Reads marts.rpt_arm_user_daily; writes nothing.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import duckdb

from echo_ops.warehouse import read_sql

METRICS = ("acceptance", "accepted_per_request", "retained_chars_per_request")
_FIELDS = ("request_count", "shown_count", "accepted_count", "accepted_retained_chars")


def arm_user_totals(
    con: duckdb.DuckDBPyConnection, first: date, last: date, treatment_model: str | None = None
) -> dict[str, list[tuple[int, int, int, int]]]:
    """{arm: [(requests, shown, accepted, retained chars) per person]} over the days."""
    rows = con.execute(
        read_sql("reports/arm_user_totals"),
        {"first": first, "last": last, "treatment_model": treatment_model},
    ).fetchall()
    out: dict[str, list[tuple[int, int, int, int]]] = {"control": [], "treatment": []}
    for arm, _user, *counts in rows:
        out.setdefault(arm, []).append(tuple(int(c or 0) for c in counts))
    return out


def metrics_from_totals(requests: int, shown: int, accepted: int, chars: int) -> dict[str, float]:
    """Counts and the three metrics users feel, as ratios of sums (docs/metrics.md); the
    online A/B and the offline estimate both report through this."""
    return {
        "requests": requests,
        "shown": shown,
        "accepted": accepted,
        "retained_chars": chars,
        "acceptance": accepted / shown if shown else 0.0,
        "accepted_per_request": accepted / requests if requests else 0.0,
        "retained_chars_per_request": chars / requests if requests else 0.0,
    }


def arm_metrics(users: list[tuple[int, int, int, int]]) -> dict[str, float]:
    """The three metrics of one arm from its people's totals (ratios of sums)."""
    return metrics_from_totals(*(sum(u[i] for u in users) for i in range(4)))


def compare_arms(
    arms: dict[str, list[tuple[int, int, int, int]]], n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Each arm's metrics, and for each metric treatment / control and treatment - control
    with 95% percentile intervals from a bootstrap over people (clustered by user)."""
    control, treatment = arms.get("control", []), arms.get("treatment", [])
    out: dict[str, Any] = {
        "control": arm_metrics(control),
        "treatment": arm_metrics(treatment),
        "users": {"control": len(control), "treatment": len(treatment)},
    }
    rng = random.Random(seed)
    boots: dict[str, list[tuple[float, float]]] = {m: [] for m in METRICS}
    for _ in range(n_boot if control and treatment else 0):
        c = arm_metrics([rng.choice(control) for _ in control])
        t = arm_metrics([rng.choice(treatment) for _ in treatment])
        for m in METRICS:
            boots[m].append((t[m] / c[m] if c[m] else float("nan"), t[m] - c[m]))
    for m in METRICS:
        c, t = out["control"][m], out["treatment"][m]
        ratios = sorted(r for r, _ in boots[m] if r == r)
        diffs = sorted(d for _, d in boots[m])
        out[m] = {
            "ratio": t / c if c else None,
            "ratio_ci": _interval(ratios),
            "diff": t - c,
            "diff_ci": _interval(diffs),
        }
    return out


def _interval(values: list[float]) -> list[float] | None:
    if len(values) < 20:
        return None
    return [
        values[int(0.025 * len(values))],
        values[min(len(values) - 1, int(0.975 * len(values)))],
    ]
