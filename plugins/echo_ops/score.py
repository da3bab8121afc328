"""Score extraction against the simulator's truth (fidelity of final text and outcome).

Reads staging.refinements, ops.extract_deferrals and ops.quarantine (any run day) and
`{truth_dir}/ds=D/completions.jsonl`; writes nothing. Safe to run any time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb

from echo_ops.config import Settings, get_settings


@dataclass(frozen=True)
class Fidelity:
    ds: date
    truth: int  # completions the simulator showed that day
    extracted: int
    deferred: int
    quarantined: int  # at extract, or their shown line refused at ingest
    unaccounted: int
    fidelity_exact: float  # share of extracted whose final_text equals the truth
    outcome_accuracy: float  # share of extracted whose outcome equals intended_outcome
    mismatches: list[dict]  # a few examples to look at

    def as_dict(self) -> dict:
        return asdict(self)


def truth_path(settings: Settings, ds: date) -> Path:
    return Path(settings.storage.truth_dir) / f"ds={ds.isoformat()}" / "completions.jsonl"


def score_day(
    con: duckdb.DuckDBPyConnection, ds: date, settings: Settings | None = None
) -> Fidelity:
    """Compare every truth row of day ds with what extraction made of it."""
    settings = settings or get_settings()
    path = truth_path(settings, ds)
    if not path.is_file():
        raise FileNotFoundError(f"no simulator truth for {ds} at {path}")
    con.execute(
        "create or replace temp table _truth as select completion_id, intended_outcome, final_text "
        "from read_json(?, format='newline_delimited', columns={'completion_id': 'VARCHAR', "
        "'intended_outcome': 'VARCHAR', 'final_text': 'VARCHAR'})",
        [str(path)],
    )
    rows = con.execute(_SCORE_SQL).fetchall()
    fate = {}
    for cid, status, same_text, same_outcome, got, want in rows:
        fate[cid] = (status, same_text, same_outcome, got, want)
    extracted = [v for v in fate.values() if v[0] == "extracted"]
    n = len(extracted) or 1
    mismatches = [
        {"completion_id": cid, "got": got, "want": want}
        for cid, (status, same, _o, got, want) in sorted(fate.items())
        if status == "extracted" and not same
    ][:5]
    count = lambda s: sum(1 for v in fate.values() if v[0] == s)  # noqa: E731
    return Fidelity(
        ds,
        len(fate),
        len(extracted),
        count("deferred"),
        count("quarantined"),
        count("unaccounted"),
        sum(1 for v in extracted if v[1]) / n,
        sum(1 for v in extracted if v[2]) / n,
        mismatches,
    )


_SCORE_SQL = """
with
refined as (
    select completion_id, final_text, outcome from staging.refinements
    qualify row_number() over (partition by completion_id order by ds) = 1
),
deferred as (
    select distinct completion_id from ops.extract_deferrals
    where ds = (select max(ds) from ops.extract_deferrals)
),
quarantined as (
    select distinct replace(object_key, 'completion:', '') as completion_id
    from ops.quarantine where stage = 'extract'
),
ingest_refused as (
    select distinct t.completion_id
    from _truth t join ops.quarantine q
      on q.stage = 'ingest' and contains(q.raw_text, t.completion_id)
)
select
    t.completion_id,
    case
        when r.completion_id is not null then 'extracted'
        when q.completion_id is not null or i.completion_id is not null then 'quarantined'
        when d.completion_id is not null then 'deferred'
        else 'unaccounted'
    end,
    r.final_text is not distinct from t.final_text,
    r.outcome is not distinct from t.intended_outcome,
    r.final_text,
    t.final_text
from _truth t
left join refined r using (completion_id)
left join deferred d using (completion_id)
left join quarantined q using (completion_id)
left join ingest_refused i using (completion_id)
"""


def format_fidelity(f: Fidelity) -> str:
    return json.dumps(f.as_dict(), default=str, indent=2, ensure_ascii=False)
