"""`echo-ops report`: one self-contained HTML file with the plots analysts and on-call ask for.

Reads the published analyst copy (marts and the model registry; docs/marts.md), never the
pipeline's file, and writes one HTML page that needs no network to view: plotly's
JavaScript is inlined once. Plots: acceptance by day for each arm with promotions and
rollbacks marked, accepted per request and retained characters per request, the outcome
mix, data-quality history, pipeline accounting, and the training and evaluation curves of
each fine-tune. A plot with no data yet says so in words instead of drawing empty axes.
"""

from __future__ import annotations

import html
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.warehouse import table_exists

ARM_COLOURS = {"control": "#7f7f7f", "treatment": "#1f77b4", "none": "#2ca02c"}


def write_report(con: duckdb.DuckDBPyConnection, out: Path, title: str = "Echo report") -> Path:
    """Render every section from `con` (the published copy) into `out`; returns `out`."""
    sections = [
        ("acceptance", "Acceptance by day and arm", _acceptance(con)),
        ("per-request", "Accepted and retained characters per request", _per_request(con)),
        ("outcomes", "Outcome mix", _outcomes(con)),
        ("quality", "Data-quality history", _quality(con)),
        ("accounting", "Pipeline accounting", _accounting(con)),
        ("training", "Training and evaluation curves", _training(con)),
    ]
    body, first = [], True
    for anchor, heading, fig in sections:
        if fig is None:
            inner = '<p class="empty">No data yet.</p>'
        else:
            inner = fig.to_html(full_html=False, include_plotlyjs=first, div_id=f"plot-{anchor}",
                                config={"displaylogo": False, "responsive": True})  # fmt: skip
            first = False
        body.append(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{inner}</section>')
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(_PAGE.format(title=html.escape(title), body="\n".join(body)), encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    return out


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
h2{{border-bottom:1px solid #ddd;padding-bottom:.2em}} .empty{{color:#888}}</style>
</head><body><h1>{title}</h1>
<p>From the published analyst copy: definitions in docs/marts.md and docs/metrics.md.</p>
{body}
</body></html>
"""


def _rows(con, sql: str) -> list[dict[str, Any]]:
    rel = con.execute(sql)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def _days(fig):
    """Day ticks, not hours: every mart here is per day."""
    fig.update_xaxes(tickformat="%b %d", dtick=86_400_000)
    return fig


def _decisions(con) -> list[dict[str, Any]]:
    if not table_exists(con, "marts.rpt_model_decisions"):
        return []
    return _rows(con, "select * from marts.rpt_model_decisions where kind = 'fine_tune'")


def _mark_decisions(fig, decisions: list[dict[str, Any]], days: list[date]) -> None:
    """A dashed line on the first day a promoted model served, a red one at a rollback."""
    if not days:
        return
    lo, hi = min(days), max(days)
    for d in decisions:
        promoted = d["promoted_at"] is not None or d["status"] == "champion"
        if (promoted or d["is_rolled_back"]) and d["window_to"] is not None:
            first = d["window_to"] + timedelta(days=1)
            if lo <= first <= hi:
                fig.add_vline(x=first, line_dash="dash", line_color="#2ca02c")
                fig.add_annotation(x=first, y=1, yref="paper", text=f"promoted {d['model_id']}",
                                   showarrow=False, textangle=-90, xanchor="left", yanchor="top")  # fmt: skip
        if d["is_rolled_back"] and d["decided_at"] is not None:
            when = d["decided_at"].date()
            if lo <= when <= hi:
                fig.add_vline(x=when, line_color="#d62728")
                fig.add_annotation(x=when, y=0, yref="paper", text=f"rolled back {d['model_id']}",
                                   showarrow=False, textangle=-90, xanchor="left", yanchor="bottom")  # fmt: skip


def _by_arm(con) -> list[dict[str, Any]]:
    if table_exists(con, "marts.rpt_arm_user_daily"):
        rows = _rows(
            con,
            "select ds, arm, sum(request_count) as requests, sum(shown_count) as shown, "
            "sum(accepted_count) as accepted, sum(accepted_retained_chars) as retained "
            "from marts.rpt_arm_user_daily group by all order by ds, arm",
        )
        if rows:
            return rows
    if not table_exists(con, "marts.rpt_daily_acceptance"):
        return []
    # no A/B run: one line for all traffic (requests unknown here)
    return _rows(
        con,
        "select ds, 'none' as arm, null as requests, sum(shown_count) as shown, "
        "sum(accepted_count) as accepted, sum(accepted_retained_chars) as retained "
        "from marts.rpt_daily_acceptance group by all order by ds",
    )


def _acceptance(con):
    import plotly.graph_objects as go

    rows = [r for r in _by_arm(con) if r["shown"]]
    if not rows:
        return None
    fig = go.Figure()
    for arm in sorted({r["arm"] for r in rows}):
        mine = [r for r in rows if r["arm"] == arm]
        fig.add_trace(go.Scatter(
            x=[r["ds"] for r in mine], y=[r["accepted"] / r["shown"] for r in mine],
            mode="lines+markers", name=arm, line_color=ARM_COLOURS.get(arm),
            customdata=[[r["accepted"], r["shown"]] for r in mine],
            hovertemplate="%{x}: %{y:.3f} (%{customdata[0]} of %{customdata[1]} shown)",
        ))  # fmt: skip
    _mark_decisions(fig, _decisions(con), [r["ds"] for r in rows])
    fig.update_layout(yaxis_title="accepted / shown", yaxis_tickformat=".0%", height=380)
    return _days(fig)


def _per_request(con):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [r for r in _by_arm(con) if r["requests"]]
    if not rows:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "accepted per request", "accepted-and-retained characters per request"))  # fmt: skip
    for arm in sorted({r["arm"] for r in rows}):
        mine = [r for r in rows if r["arm"] == arm]
        x = [r["ds"] for r in mine]
        colour = ARM_COLOURS.get(arm)
        fig.add_trace(go.Scatter(x=x, y=[r["accepted"] / r["requests"] for r in mine],
                                 name=arm, mode="lines+markers", line_color=colour), 1, 1)  # fmt: skip
        fig.add_trace(go.Scatter(x=x, y=[r["retained"] / r["requests"] for r in mine],
                                 name=arm, mode="lines+markers", line_color=colour,
                                 showlegend=False), 1, 2)  # fmt: skip
    fig.update_layout(height=360)
    return _days(fig)


def _outcomes(con):
    import plotly.graph_objects as go

    if not table_exists(con, "marts.rpt_refinement_funnel"):
        return None
    rows = _rows(
        con,
        "select ds, outcome, sum(completion_count) as n from marts.rpt_refinement_funnel "
        "group by all order by ds, outcome",
    )
    if not rows:
        return None
    fig = go.Figure()
    for outcome in sorted({r["outcome"] for r in rows}):
        mine = [r for r in rows if r["outcome"] == outcome]
        fig.add_trace(go.Bar(x=[r["ds"] for r in mine], y=[r["n"] for r in mine], name=outcome))
    fig.update_layout(barmode="stack", yaxis_title="completions shown", height=380)
    return _days(fig)


def _quality(con):
    import plotly.graph_objects as go

    if not table_exists(con, "marts.rpt_dq_history"):
        return None
    rows = _rows(
        con,
        "select ds, suite, count(*) as checks, count(*) filter (where not success) as failed "
        "from marts.rpt_dq_history group by all order by ds, suite",
    )
    if not rows:
        return None
    fig = go.Figure()
    for suite in sorted({r["suite"] for r in rows}):
        mine = [r for r in rows if r["suite"] == suite]
        fig.add_trace(go.Bar(
            x=[r["ds"] for r in mine], y=[r["checks"] - r["failed"] for r in mine],
            name=f"{suite} passed", customdata=[r["failed"] for r in mine],
            hovertemplate="%{x}: %{y} passed, %{customdata} failed",
        ))  # fmt: skip
    failed = [r for r in rows if r["failed"]]
    if failed:
        fig.add_trace(go.Bar(x=[r["ds"] for r in failed], y=[r["failed"] for r in failed],
                             name="failed", marker_color="#d62728"))  # fmt: skip
    fig.update_layout(barmode="stack", yaxis_title="checks", height=360)
    return _days(fig)


def _accounting(con):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not table_exists(con, "marts.rpt_pipeline_accounting"):
        return None
    rows = _rows(con, "select * from marts.rpt_pipeline_accounting order by ds, stage")
    if not rows:
        return None
    stages = sorted({r["stage"] for r in rows}, key=["ingest", "extract"].index)
    fig = make_subplots(rows=1, cols=len(stages), subplot_titles=stages)
    for i, stage in enumerate(stages, start=1):
        mine = [r for r in rows if r["stage"] == stage]
        for part, colour in (("rows_out", "#2ca02c"), ("deferred", "#ff7f0e"),
                             ("quarantined", "#d62728"), ("unaccounted", "#000000")):  # fmt: skip
            fig.add_trace(go.Bar(x=[r["ds"] for r in mine], y=[r[part] for r in mine],
                                 name=part, marker_color=colour, showlegend=i == 1), 1, i)  # fmt: skip
    fig.update_layout(barmode="stack", height=360)
    return _days(fig)


def _training(con):
    import plotly.graph_objects as go

    if not table_exists(con, "registry.models"):
        return None
    rows = con.execute(
        "select model_id, metrics_json from registry.models where kind = 'fine_tune' "
        "order by created_at, model_id"
    ).fetchall()
    fig, drew = go.Figure(), False
    for model_id, metrics in rows:
        curve = (json.loads(metrics or "{}").get("train") or {}).get("curve") or []
        if not curve:
            continue
        drew = True
        fig.add_trace(go.Scatter(x=[c[0] for c in curve], y=[c[1] for c in curve],
                                 mode="lines", name=f"{model_id} train"))  # fmt: skip
        held = [c for c in curve if c[2] is not None]
        if held:
            fig.add_trace(go.Scatter(x=[c[0] for c in held], y=[c[2] for c in held],
                                     mode="markers+lines", name=f"{model_id} held-out",
                                     line_dash="dot"))  # fmt: skip
    if not drew:
        return None
    fig.update_layout(xaxis_title="step", yaxis_title="loss", height=380)
    return fig
