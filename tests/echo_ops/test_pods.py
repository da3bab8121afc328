"""The fine-tune pod: its environment, its spec, and its exact command run through the real CLI."""

from __future__ import annotations

import json

from echo_ops.cli import main
from echo_ops.config import ScheduleSettings, Settings, get_settings
from echo_ops.pods import TRAIN_ARGUMENTS, XCOM_RESULT_FILE, fine_tune_pod_kwargs, pod_env
from echo_ops.warehouse import open_warehouse
from tests.kit import seed_champion_and_two_days, tiny_fine_tune_env


def _pod_args(result_file: str, resume: bool) -> list[str]:
    """TRAIN_ARGUMENTS as Airflow renders them, with a local result path instead of the sidecar's."""
    flag = "--resume" if resume else "--no-resume"
    args = [flag if "try_number" in a else a for a in TRAIN_ARGUMENTS]
    return [result_file if a == XCOM_RESULT_FILE else a for a in args]


def test_pod_env_passes_echo_settings_only_and_forces_cuda(tmp_path):
    settings = Settings(data_root=tmp_path)
    environ = {"ECHO_TRAIN__MAX_STEPS": "9", "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/root"}
    env = pod_env(settings, environ)
    assert env == {"ECHO_TRAIN__MAX_STEPS": "9", "ECHO_DATA_ROOT": str(tmp_path),
                   "ECHO_TRAIN__DEVICE": "cuda"}  # fmt: skip
    # An explicit device wins; a CPU pod gets neither CUDA nor a GPU limit.
    cpu = Settings(data_root=tmp_path, schedule=ScheduleSettings(pod_gpus=0))
    assert pod_env(cpu, {"ECHO_TRAIN__DEVICE": "cpu"})["ECHO_TRAIN__DEVICE"] == "cpu"
    assert "ECHO_TRAIN__DEVICE" not in pod_env(cpu, {})
    kwargs = fine_tune_pod_kwargs(cpu, {})
    assert "container_resources" not in kwargs and "volumes" not in kwargs
    assert "env_from" not in kwargs and kwargs["service_account_name"] is None


def test_pod_command_trains_and_writes_the_xcom_result(tiny_copy, monkeypatch, tmp_path, capsys):
    tiny_fine_tune_env(monkeypatch)
    with open_warehouse(get_settings()) as con:
        seed_champion_and_two_days(con, tiny_copy)

    result_file = tmp_path / "xcom" / "return.json"
    assert main(_pod_args(str(result_file), resume=False)) == 0
    result = json.loads(result_file.read_text())
    assert result["candidate_id"].startswith("ft-20261102-") and result["steps"] == 2
    # A retry (try 2) resumes from the checkpoint at step 2 and stages the same candidate.
    assert main(_pod_args(str(result_file), resume=True)) == 0
    assert json.loads(result_file.read_text())["candidate_id"] == result["candidate_id"]
    # The pod wrote files only: echo_train's register_candidate (echo_duckdb) adds the row.
    from echo_ops import pipeline
    from echo_ops.registry import get_model, list_models

    with open_warehouse(get_settings(), read_only=True) as con:
        assert result["candidate_id"] not in [m.model_id for m in list_models(con)]
    pipeline.register_candidate(result["candidate_id"])
    with open_warehouse(get_settings(), read_only=True) as con:
        assert get_model(con, result["candidate_id"]).parent_id == "base"


def test_pod_command_without_champion_fails_and_leaves_no_result(tmp_path, capsys):
    result_file = tmp_path / "return.json"
    assert main(_pod_args(str(result_file), resume=False)) == 1
    assert "bootstrap-model" in capsys.readouterr().err
    assert not result_file.exists()
