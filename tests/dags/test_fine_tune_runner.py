"""echo_train.fine_tune runs on a worker by default, or in a Kubernetes GPU pod; same graph."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from test_dag_integrity import _parse_in_fresh_interpreter

from echo_ops.cli import build_parser
from echo_ops.config import reset_settings_cache

DAGS = Path(__file__).resolve().parents[2] / "dags"


def _train_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "echo_train.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["echo_train"]


def _edges(dag) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


@pytest.fixture
def pod_mode(monkeypatch):
    monkeypatch.setenv("ECHO_SCHEDULE__FINE_TUNE_RUNNER", "kubernetes")
    monkeypatch.setenv("ECHO_SCHEDULE__POD_IMAGE", "registry.example/echo:1.2")
    monkeypatch.setenv("ECHO_SCHEDULE__POD_GPUS", "2")
    monkeypatch.setenv("ECHO_SCHEDULE__POD_ENV_SECRET", "echo-s3")
    monkeypatch.setenv("ECHO_SCHEDULE__POD_VOLUME_CLAIM", "echo-data")
    monkeypatch.setenv("ECHO_TRAIN__MAX_STEPS", "7")
    reset_settings_cache()


def test_default_runner_is_the_taskflow_task():
    task = _train_dag().get_task("fine_tune")
    assert type(task).__name__ == "_PythonDecoratedOperator"
    assert task.pool == "echo_gpu" and task.task_display_name == "Fine-tune candidate"


def test_kubernetes_runner_is_a_gpu_pod_running_the_train_cli(pod_mode, settings):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    task = _train_dag().get_task("fine_tune")
    assert isinstance(task, KubernetesPodOperator)
    assert (task.pool, task.queue, task.task_display_name) == (
        "echo_gpu",
        "default",
        "Fine-tune candidate",
    )
    assert task.image == "registry.example/echo:1.2" and task.namespace == "default"
    assert task.container_resources.limits == {"nvidia.com/gpu": "2"}
    assert [t.key for t in task.tolerations] == ["nvidia.com/gpu"]
    assert task.cmds == ["echo-ops"] and task.arguments[0] == "train"
    assert task.do_xcom_push, "register_candidate reads the candidate_id from the pod's XCom"
    assert "--no-register" in task.arguments  # the pod writes files, never the warehouse
    env = dict(task.env_vars)  # the operator turns it into V1EnvVar when it runs
    assert env["ECHO_TRAIN__MAX_STEPS"] == "7" and env["ECHO_TRAIN__DEVICE"] == "cuda"
    assert env["ECHO_DATA_ROOT"] == str(settings.data_root)
    assert task.volume_mounts[0].mount_path == str(settings.data_root)
    assert task.volumes[0].persistent_volume_claim.claim_name == "echo-data"
    assert task.env_from[0].secret_ref.name == "echo-s3"
    assert task.retries == 2 and task.on_failure_callback and task.owner == "echo-ml"
    assert task.doc_md


def test_same_graph_either_way(monkeypatch):
    worker = _edges(_train_dag())
    monkeypatch.setenv("ECHO_SCHEDULE__FINE_TUNE_RUNNER", "kubernetes")
    reset_settings_cache()
    pod = _train_dag()
    assert _edges(pod) == worker
    assert pod.get_task("fine_tune").downstream_task_ids == {"register_candidate"}
    assert pod.get_task("fine_tune").upstream_task_ids == {"check_new_data"}


@pytest.mark.parametrize("try_number,resume", [(1, False), (2, True), (3, True)])
def test_pod_command_resumes_only_on_a_retry(pod_mode, try_number, resume):
    """Render the templated arguments as Airflow would, then parse them with our real CLI."""
    task = _train_dag().get_task("fine_tune")
    rendered = task.render_template(task.arguments, {"ti": SimpleNamespace(try_number=try_number)})
    args = build_parser().parse_args(task.cmds[1:] + rendered)
    assert args.command == "train" and args.resume is resume and args.register is False
    assert args.result_file == "/airflow/xcom/return.json"


def test_unknown_runner_fails_loudly(monkeypatch):
    from pydantic import ValidationError

    from echo_ops.config import get_settings

    monkeypatch.setenv("ECHO_SCHEDULE__FINE_TUNE_RUNNER", "slurm")
    reset_settings_cache()
    with pytest.raises(ValidationError, match="fine_tune_runner"):
        get_settings()


def test_pod_mode_parses_without_heavy_imports(pod_mode):
    seconds, heavy = _parse_in_fresh_interpreter(DAGS / "echo_train.py")
    assert not heavy, f"pod mode imports {heavy} at parse time"
    # The cncf provider and kubernetes client add ~0.8 s here; still far below the 30 s limit.
    assert seconds < 5.0
