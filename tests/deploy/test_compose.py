"""docker-compose.yaml can't be run here (no Docker engine): check its structure instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from echo_ops.config import check_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_all_airflow_3_components_and_backing_services(compose):
    services = set(compose["services"])
    assert {
        "postgres",
        "redis",
        "s3",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-worker-gpu",
    } <= services


def test_gpu_worker_serves_only_the_gpu_queue_the_dags_use(compose):
    gpu = compose["services"]["airflow-worker-gpu"]
    assert "--queues gpu" in gpu["command"]
    assert gpu["environment"]["ECHO_SCHEDULE__GPU_QUEUE"] == "gpu"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "--queues default" in compose["services"]["airflow-worker"]["command"]


def test_echo_settings_in_compose_are_real_settings(compose):
    env = {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}
    check_environment(env)  # raises on a misspelled ECHO_* name
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_init_creates_the_pools_the_dags_need(compose):
    command = compose["services"]["airflow-init"]["command"]
    assert "db migrate" in command
    for pool in ("echo_duckdb", "echo_gpu"):
        assert f"pools set {pool} 1" in command
    assert "pools set echo_extract " in command  # the extract shards' own pool


def test_the_completion_server_serves_from_and_lands_in_the_shared_stores(compose):
    serve = compose["services"]["echo-serve"]
    assert serve["command"].startswith("echo-ops serve") and "0.0.0.0" in serve["command"]
    env = {k: str(v) for k, v in serve["environment"].items()}
    check_environment(env)
    assert env["ECHO_STORAGE__LANDING_URI"].startswith("s3://") and env["ECHO_SERVE__TOKEN"]
