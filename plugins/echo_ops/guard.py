"""The online guard: after a promotion, watch the A/B and roll back on a significant drop.

Each day, after the marts: the champion's online result so far (the days it served the
treatment arm: from the day after its data window, `served_from`, to `day`) against the
control arm on the same days, from marts.rpt_arm_user_daily (echo_ops.abtest: intervals
clustered by user). It is stored beside the offline estimate that promoted the model
(registry.models metrics `online`), so every promotion keeps what was predicted and what
happened. When both arms showed at least `train.rollback_min_shown` completions and
treatment's acceptance is below control's with the 95% interval of the difference under
0, the champion is rolled back (`registry.rollback`: the exact previous champion comes
back) and the reason is recorded in the registry and the task log.
Reads marts.rpt_arm_user_daily, registry.models; writes registry.models. Re-run safe: a
second run on the same day finds the restored champion and compares that one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb

from echo_ops.abtest import arm_user_totals, compare_arms
from echo_ops.config import Settings
from echo_ops.logs import stage_run


def served_from(record) -> date | None:
    """The first day a fine-tuned champion served: the day after its data window."""
    last = (record.data_window or {}).get("to")
    return date.fromisoformat(str(last)[:10]) + timedelta(days=1) if last else None


def online_guard(con: duckdb.DuckDBPyConnection, day: date, settings: Settings) -> dict[str, Any]:
    """Record the champion's online result to `day`; roll it back on a significant drop."""
    from echo_ops.registry import champion, rollback, update_metrics

    cfg = settings.train
    with stage_run("online_guard", day=day) as counts:
        champ = champion(con)
        start = served_from(champ) if champ is not None and champ.parent_id else None
        if start is None or start > day:
            counts.update(checked=False, reason="no promoted fine-tune serving yet")
            return dict(counts)
        result = compare_arms(
            arm_user_totals(con, start, day, champ.model_id), cfg.bootstrap_samples, cfg.seed
        )
        online = {"from": start.isoformat(), "to": day.isoformat(), **_summary(result)}
        update_metrics(con, champ.model_id, {"online": online})
        shown = min(result["control"]["shown"], result["treatment"]["shown"])
        high = (result["acceptance"]["diff_ci"] or [0.0, 0.0])[1]
        counts.update(checked=True, champion=champ.model_id, shown_min=shown,
                      acceptance_diff=result["acceptance"]["diff"], diff_ci_high=high)  # fmt: skip
        if shown >= cfg.rollback_min_shown and high < 0:
            reason = (
                f"online drop: acceptance treatment {result['treatment']['acceptance']:.4f} vs "
                f"control {result['control']['acceptance']:.4f} over {start}..{day} (diff "
                f"{result['acceptance']['diff']:+.4f}, 95% interval by user ends at {high:+.4f}; "
                f"shown {result['treatment']['shown']} / {result['control']['shown']})"
            )
            rejected, restored = rollback(con, reason, settings)
            counts.update(rolled_back=rejected, restored=restored, reason=reason)
        return dict(counts)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    out = {arm: result[arm] for arm in ("control", "treatment")}
    for m in ("acceptance", "accepted_per_request", "retained_chars_per_request"):
        out[m] = result[m]
    return out
