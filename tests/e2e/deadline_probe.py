"""Run in a subprocess against a test Airflow home: what the scheduler and the triggerer do
with echo_daily's Deadline Alert, in their own code, minus their loops.

1. the DAG processor's sync of the DAG folder (serialized DAG + its DeadlineAlert rows);
2. the scheduler creating a scheduled run (SerializedDAG.create_dagrun makes its Deadline);
3. the scheduler's check for expired deadlines (Deadline.handle_miss queues the callback);
4. the triggerer running the queued callback (CallbackTrigger, as its runner does).
Prints one JSON line: the deadline time and the callback's final state.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
from airflow.models import Deadline
from airflow.models.serialized_dag import SerializedDagModel
from airflow.triggers.callback import CallbackTrigger
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from sqlalchemy import select


def main(day: str) -> None:
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    with create_session() as session:
        dag = SerializedDagModel.get_dag("echo_daily", session=session)
        run = dag.create_dagrun(
            run_id=f"scheduled__{start.isoformat()}", logical_date=start,
            data_interval=(start, start + timedelta(days=1)), run_after=start + timedelta(days=1),
            run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE,
            state=DagRunState.RUNNING, session=session,
        )  # fmt: skip
        session.flush()
        (deadline,) = session.scalars(select(Deadline).where(Deadline.dagrun_id == run.id))
        deadline_time = deadline.deadline_time
    with create_session() as session:  # the scheduler's loop body for expired deadlines
        expired = select(Deadline).where(Deadline.deadline_time < datetime.now(UTC))
        for d in session.scalars(expired.where(~Deadline.missed)):
            d.handle_miss(session)
        session.flush()
        (d,) = session.scalars(select(Deadline).where(Deadline.dagrun_id == run.id))
        data = dict(d.callback.data)
    trigger = CallbackTrigger(data["path"], dict(data.get("kwargs") or {}))

    async def run_trigger():
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run_trigger())
    print(json.dumps({"deadline_time": deadline_time.isoformat(), "path": data["path"],
                      "states": [str(e.get("state")) for e in events],
                      "body": str(events[-1].get("body"))[:2000]}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
