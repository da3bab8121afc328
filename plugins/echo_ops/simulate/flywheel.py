"""The closed loop: each simulated day is served by that day's champion, with a control arm.

`run_flywheel(start, days)` plays a team working in one repository (simulate/repo.py)
for `days` days. Every day:
1. serve: each person is served by the model of their arm (`run.assign_arms`: a share
   `control_share` of people, by a hash of their user id, stays on the model that was
   champion when the run started; the others get whatever is champion that morning),
   through the model proposer, i.e. `echo_ops.generate`, the code that serves editors;
   the server log carries model_version, arm and user id;
2. echo_daily on the day: ingest, align, extract, training examples, marts, online guard
   (a significant drop of treatment against control rolls the champion back);
3. echo_train when enough new data arrived: fine-tune the champion, evaluate against it
   (offline estimate + regression set), promote or reject;
so the next day is served by whatever was promoted. One more day is served and processed
after the last one, with no fine-tune after it: its partition holds the late events of the
day before, and its data settles the completions deferred then (the echo_daily checks
want a day with traffic, as production always has).

`runner="inprocess"` calls the stage functions the DAG tasks call (the bench: no Airflow
start-up per task; validations skipped); `runner="airflow"` runs the real DAGs with
`airflow dags test` (the demo). Same seed, same settings: the same run (the simulator and
the training batches are seeded; the champion each day depends only on them).
Reads and writes everything the stages do, under `settings.data_root`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from echo_ops.config import Settings


def run_flywheel(
    start: date,
    days: int,
    *,
    users: int,
    control_share: float,
    settings: Settings,
    seed: int | None = None,
    runner: str = "inprocess",
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the loop; returns the per-day log and the registry's decisions."""
    from echo_ops.evaluate import serving_gate
    from echo_ops.registry import champion, get_model
    from echo_ops.simulate.run import simulate_days
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(settings) as con:
        base = champion(con)
    if base is None:
        raise LookupError("no champion in the registry: run `echo-ops bootstrap-model` first")
    log = []
    for i in range(days + 1):
        day = start + timedelta(days=i)
        with open_warehouse(settings) as con:
            champ = champion(con)
            base_rec = get_model(con, base.model_id)
        arms = {
            "control": (base.model_id, serving_gate(base_rec, settings)),
            "treatment": (champ.model_id, serving_gate(champ, settings)),
        }
        t0 = time.perf_counter()
        sim = simulate_days(day, 1, seed=seed, users=users, proposer="model", arms=arms,
                            control_share=control_share, repo_day=i, repo_days=days + 1,
                            settings=settings)  # fmt: skip
        t1 = time.perf_counter()
        daily = _daily(day, settings, runner)
        with open_warehouse(settings) as con:
            after = champion(con)
            if after.model_id != champ.model_id:  # the online guard rolled it back
                daily["guard"] = {"rolled_back": champ.model_id, "restored": after.model_id,
                                  "reason": get_model(con, champ.model_id).decided_reason}  # fmt: skip
        t2 = time.perf_counter()
        trained = _train(day, settings, runner) if i < days else {"skipped": "last day"}
        entry = {"day": day.isoformat(), "treatment_model": champ.model_id,
                 "control_model": base.model_id, "shown": sim["completions_shown"],
                 "guard": daily.get("guard", {}), "train": trained,
                 "seconds": {"serve": round(t1 - t0, 1), "daily": round(t2 - t1, 1),
                             "train": round(time.perf_counter() - t2, 1)}}  # fmt: skip
        log.append(entry)
        say(_line(entry))
    last = start + timedelta(days=days)
    return {"start": start.isoformat(), "days": days, "base_model": base.model_id, "log": log,
            "last_day": last.isoformat()}  # fmt: skip


def _line(entry: dict[str, Any]) -> str:
    t = entry["train"]
    what = (
        f"promoted {t['candidate_id']}"
        if t.get("promoted")
        else f"rejected {t['candidate_id']}"
        if t.get("candidate_id")
        else f"no fine-tune ({t.get('skipped', '')})"
    )
    guard = entry["guard"]
    rb = (
        f"; ROLLBACK {guard['rolled_back']} -> {guard['restored']}"
        if guard.get("rolled_back")
        else ""
    )
    return (f"{entry['day']}: treatment on {entry['treatment_model']}, {entry['shown']} shown; "
            f"{what}{rb}  ({entry['seconds']})")  # fmt: skip


def _daily(day: date, settings: Settings, runner: str) -> dict[str, Any]:
    from echo_ops import pipeline

    if runner == "airflow":
        _airflow("echo_daily", day)
        return {"guard": {}}
    # the task layer the DAG calls, minus the GX validations and the analyst snapshot
    for step in (pipeline.init_warehouse, pipeline.ingest, pipeline.align, pipeline.extract,
                 pipeline.build_training_examples, pipeline.refresh_marts):  # fmt: skip
        step(day, settings)
    return {"guard": pipeline.online_guard(day, settings)}


def _train(day: date, settings: Settings, runner: str) -> dict[str, Any]:
    from echo_ops import pipeline
    from echo_ops.evaluate import EvalDataError
    from echo_ops.registry import list_models, set_status
    from echo_ops.warehouse import open_warehouse

    check = pipeline.check_new_data(settings)
    if not check["fine_tune"]:
        return {"skipped": check["reason"]}
    if runner == "airflow":
        _airflow("echo_train", day)
        with open_warehouse(settings) as con:
            newest = [m for m in list_models(con) if m.kind == "fine_tune"][-1]
        return {"candidate_id": newest.model_id, "promoted": newest.status == "champion",
                "reason": newest.decided_reason}  # fmt: skip
    ft = pipeline.fine_tune(settings=settings)
    pipeline.register_candidate(ft["candidate_id"], settings)
    try:
        pipeline.evaluate_candidate(ft["candidate_id"], settings)
    except EvalDataError as exc:  # the DAG fails the task; the loop records it and goes on
        reason = f"not evaluated: {exc}"
        with open_warehouse(settings) as con:
            set_status(con, ft["candidate_id"], "rejected", reason)
        return {"candidate_id": ft["candidate_id"], "promoted": False, "reason": reason}
    decision = pipeline.promote_or_reject(ft["candidate_id"], settings)
    return {"candidate_id": ft["candidate_id"], "promoted": decision["promoted"],
            "reason": decision["reason"], "examples": ft["examples"]}  # fmt: skip


def _airflow(dag_id: str, day: date) -> None:
    airflow = str(Path(sys.executable).parent / "airflow")
    done = subprocess.run([airflow, "dags", "test", dag_id, day.isoformat()], env=dict(os.environ),
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"airflow dags test {dag_id} {day} failed:\n{done.stdout[-3000:]}")
