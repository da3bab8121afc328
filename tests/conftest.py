"""Shared fixtures: every test gets its own data root, so nothing touches ./data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Same Airflow home as `make`, so a bare `pytest` finds the migrated SQLite DB.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# This checkout's package first, even when the venv's editable install points elsewhere.
sys.path.insert(0, str(REPO / "plugins"))

from echo_ops.config import Settings, get_settings, reset_settings_cache  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch) -> None:
    """Point ECHO_DATA_ROOT at a fresh temp dir and drop cached settings around each test."""
    for name in [k for k in os.environ if k.startswith("ECHO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ECHO_DATA_ROOT", str(tmp_path_factory.mktemp("echo-data")))
    monkeypatch.setenv("ECHO_CONFIG_FILE", str(REPO / "tests" / "no-such-echo.toml"))
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def _moto_server():
    """A real S3 endpoint on loopback (moto's server mode), shared by the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_server(_moto_server, monkeypatch) -> str:
    """Point Echo at the loopback S3 endpoint; returns a fresh, empty bucket name."""
    import uuid

    import boto3

    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("ECHO_STORAGE__S3_ENDPOINT_URL", _moto_server)
    reset_settings_cache()
    bucket = f"echo-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=_moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return bucket


@pytest.fixture(scope="module")
def receivers():
    """A loopback SMTP server and webhook receiver (tests/alertkit.py), per test module."""
    from tests.alertkit import SMTPReceiver, WebhookReceiver

    smtp, hook = SMTPReceiver(), WebhookReceiver()
    yield smtp, hook
    smtp.shutdown()
    hook.shutdown()
