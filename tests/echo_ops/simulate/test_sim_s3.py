"""The landing zone on S3 (moto's server mode on loopback): same objects, same bytes."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import boto3
import pytest

from echo_ops import storage
from echo_ops.config import Settings, get_settings, reset_settings_cache
from echo_ops.simulate import simulate_days

SIM = {"users": 2, "sessions_per_user": 1, "files_per_session": 1, "max_file_lines": 40, "seed": 5}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ECHO_STORAGE__S3_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_settings_cache()
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="echo")
    yield url
    server.stop()


def test_s3_landing_matches_local_bytes(s3_endpoint, tmp_path):
    uri = "s3://echo/landing"
    s3 = simulate_days(
        date(2026, 11, 2),
        1,
        landing_uri=uri,
        workers=1,
        settings=Settings(data_root=tmp_path / "s3", simulate=SIM),
    )
    local = simulate_days(
        date(2026, 11, 2),
        1,
        workers=1,
        settings=Settings(data_root=tmp_path / "local", simulate=SIM),
    )
    assert s3["landing"] == uri and s3["client_events"] == local["client_events"] > 0
    remote = storage.list_objects(uri, store=get_settings().storage)
    assert remote and all(o.key.startswith(("client/ds=", "server/ds=")) for o in remote)
    root = Path(local["landing"])
    assert sorted(o.key for o in remote) == sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.gz")
    )
    for o in remote:
        assert storage.read_bytes(uri, o.key, get_settings().storage) == (root / o.key).read_bytes()
    assert (tmp_path / "s3" / "truth" / "ds=2026-11-02" / "completions.jsonl").is_file()
