"""
# echo_train

Fine-tunes the completion model when `echo_daily` has published new training examples.

enough new data? -> fine-tune (GPU queue in production, CPU on the embedded default)
-> evaluate candidate vs champion -> promote or reject, with the reason recorded.

On failure: read the `ECHO FAILURE` line in the task log, then `docs/runbook.md#echo_train`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

from echo_ops.config import TRAINING_SET_ASSET, get_settings
from echo_ops.oncall import on_task_failure

settings = get_settings()


@dag(
    schedule=[Asset(name=TRAINING_SET_ASSET)],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["echo", "train"],
    default_args={
        "owner": "echo-ml",
        "retries": settings.schedule.retries,
        "retry_delay": timedelta(seconds=settings.schedule.retry_delay_s),
        "pool": settings.schedule.duckdb_pool,
        "on_failure_callback": on_task_failure,
    },
    doc_md=__doc__,
)
def echo_train():
    @task(task_display_name="Enough new data?")
    def check_new_data() -> dict:
        """Count training examples not yet seen by the champion (fine-tuning lands in the models issue)."""
        from echo_ops.warehouse import open_warehouse, table_exists

        with open_warehouse() as con:
            if not table_exists(con, "training.examples"):
                return {"new_examples": 0}
            (n,) = con.execute("select count(*) from training.examples").fetchone()
        return {"new_examples": int(n)}

    check_new_data()


echo_train()
