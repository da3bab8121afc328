"""
# echo_train

Fine-tunes the completion model when `echo_daily` has published new training examples.

enough new data? -> fine-tune (GPU pool and queue in production, CPU on the embedded default)
-> register the candidate -> evaluate candidate vs champion on the same held-out set ->
promote or reject, with the reason recorded in `registry.models` and in `decision.json`
beside the candidate. Only the `echo_duckdb` pool writes the warehouse: fine-tune and
evaluate read it read-only for seconds and write files; register and promote write.
A manual run may set the `overrides` Param (e.g. {"train.max_steps": 20}) for that run only.

Below `train.min_new_examples` new examples the run stops after the first task (skipped, not
failed); so does a run that only backfilled days of `echo_daily` triggered: their examples
wait for the next scheduled day's run (or a manual trigger), so a backfill of N days does
not fine-tune N times. A fine-tune retry resumes from its last checkpoint. With
`schedule.fine_tune_runner=kubernetes` the fine-tune runs `echo-ops train` in a GPU pod
(KubernetesPodOperator, see `docs/models.md`); the graph is the same.

On failure: read the `ECHO FAILURE` line in the task log, then `docs/runbook.md#echo_train`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task

from echo_ops import pipeline
from echo_ops.config import TRAINING_SET_ASSET, get_settings
from echo_ops.oncall import fail_fast, overrides_param, task_defaults

settings = get_settings()


def _fine_tune_in_pod():
    """Train a candidate from the champion in a Kubernetes pod (`echo-ops train`); a retry resumes."""
    # The provider loads only on this path: the default DAG never parses it.
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from echo_ops.pods import fine_tune_pod_kwargs

    return KubernetesPodOperator(
        task_id="fine_tune",
        task_display_name="Fine-tune candidate",
        pool=settings.schedule.gpu_pool,
        queue=settings.schedule.gpu_queue,
        retry_delay=timedelta(seconds=30),
        doc_md=_fine_tune_in_pod.__doc__,
        **fine_tune_pod_kwargs(settings),
    ).output


@dag(
    schedule=[Asset(name=TRAINING_SET_ASSET)],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["echo", "train"],
    params={"overrides": overrides_param()},
    default_args=task_defaults(settings, owner="echo-ml"),
    doc_md=__doc__,
)
def echo_train():
    @task.short_circuit(task_display_name="Enough new data?")
    def check_new_data() -> bool:
        """Is there a champion and at least `train.min_new_examples` new examples since its
        data window? Not when only backfilled days triggered the run (docs/runbook.md).
        Otherwise the rest is skipped; the reason is in the log."""
        events = get_current_context().get("triggering_asset_events") or {}
        extras = [dict(e.extra or {}) for evs in events.values() for e in evs]
        return fail_fast(pipeline.check_new_data, triggered_by=extras)["fine_tune"]

    @task(
        task_display_name="Fine-tune candidate",
        pool=settings.schedule.gpu_pool,
        queue=settings.schedule.gpu_queue,
        retry_delay=timedelta(seconds=30),
    )
    def fine_tune() -> dict:
        """Train a candidate from the champion (GPU if the worker has one) and stage its files;
        the warehouse is only read (read-only, for seconds). A retry resumes."""
        return fail_fast(pipeline.fine_tune, resume=get_current_context()["ti"].try_number > 1)

    @task(task_display_name="Register candidate")
    def register_candidate(trained: dict) -> dict:
        """Add the staged candidate to registry.models (a short write in the echo_duckdb pool)."""
        return fail_fast(pipeline.register_candidate, trained["candidate_id"])

    @task(task_display_name="Evaluate candidate vs champion", pool=settings.schedule.gpu_pool)
    def evaluate_candidate(registered: dict) -> dict:
        """Score candidate and champion on the same eval set (inputs read read-only, then no
        warehouse); the report is saved beside the candidate."""
        return fail_fast(pipeline.evaluate_candidate, registered["candidate_id"])

    @task(task_display_name="Promote or reject")
    def promote_or_reject(evaluated: dict) -> dict:
        """Record the evaluation; promote only when measurably better, else reject; reason kept."""
        return fail_fast(pipeline.promote_or_reject, evaluated["candidate_id"])

    in_pod = settings.schedule.fine_tune_runner == "kubernetes"
    trained = _fine_tune_in_pod() if in_pod else fine_tune()
    check_new_data() >> trained
    promote_or_reject(evaluate_candidate(register_candidate(trained)))


echo_train()
