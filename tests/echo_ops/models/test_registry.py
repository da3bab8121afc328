"""Registry invariants: exactly one champion, atomic switch, rollback, artifacts stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from echo_ops.config import get_settings
from echo_ops.registry import (
    RegistryError,
    champion,
    fetch_model_dir,
    get_model,
    list_models,
    register_model,
    rollback,
    set_champion,
    set_status,
    write_artifact_json,
)
from echo_ops.warehouse import open_warehouse


def _fake_model(root: Path, name: str) -> Path:
    d = root / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"name": name}))
    (d / "weights.bin").write_bytes(name.encode())
    return d


def _champions(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select model_id from registry.models where status = 'champion'"
        ).fetchall()
    ]


def test_register_switch_and_rollback(tmp_path, settings):
    with open_warehouse(get_settings()) as con:
        a = register_model(
            con, _fake_model(tmp_path, "a"), kind="bootstrap", model_id="a", settings=get_settings()
        )
        assert champion(con) is None and get_model(con, "a").status == "candidate"
        set_champion(con, a, "first")
        b = register_model(con, _fake_model(tmp_path, "b"), kind="fine_tune", model_id="b", parent_id="a",
                           data_window={"from": "2026-11-01", "to": "2026-11-02"}, settings=get_settings())  # fmt: skip
        assert _champions(con) == ["a"]
        assert set_champion(con, b, "better") == "a"
        assert _champions(con) == ["b"] and get_model(con, "a").status == "archived"
        assert (
            get_model(con, "b").parent_id == "a"
            and get_model(con, "b").data_window["to"] == "2026-11-02"
        )

        # the artifact is a copy in the store, readable through fetch_model_dir
        local = fetch_model_dir(get_model(con, "b"), get_settings())
        assert (local / "weights.bin").read_bytes() == b"b"
        assert Path(settings.storage.artifacts_uri) in local.parents

        assert rollback(con, "bad in production") == ("b", "a")
        assert _champions(con) == ["a"]
        assert (
            get_model(con, "b").status == "rejected"
            and "bad in production" in get_model(con, "b").decided_reason
        )
        with pytest.raises(RegistryError, match="no earlier champion"):
            rollback(con)
        assert _champions(con) == ["a"]
        assert [m.model_id for m in list_models(con)] == ["a", "b"]


def test_failed_switch_leaves_the_old_champion(tmp_path):
    with open_warehouse(get_settings()) as con:
        register_model(
            con, _fake_model(tmp_path, "a"), kind="bootstrap", model_id="a", settings=get_settings()
        )
        set_champion(con, "a", "first")
        with pytest.raises(RegistryError, match="no model 'ghost'"):
            set_champion(con, "ghost", "typo")
        # a second champion row smuggled in makes the next switch fail and roll back whole
        register_model(
            con, _fake_model(tmp_path, "b"), kind="fine_tune", model_id="b", settings=get_settings()
        )
        register_model(
            con, _fake_model(tmp_path, "c"), kind="fine_tune", model_id="c", settings=get_settings()
        )
        con.execute("update registry.models set status = 'champion' where model_id = 'c'")
        with pytest.raises(RegistryError, match="2 champions"):
            champion(con)
        con.execute("update registry.models set status = 'candidate' where model_id = 'c'")
        assert _champions(con) == ["a"]


def test_champion_cannot_be_rejected_directly(tmp_path):
    with open_warehouse(get_settings()) as con:
        register_model(
            con, _fake_model(tmp_path, "a"), kind="bootstrap", model_id="a", settings=get_settings()
        )
        set_champion(con, "a", "first")
        with pytest.raises(RegistryError, match="is the champion"):
            set_status(con, "a", "rejected", "oops")
        with pytest.raises(RegistryError, match="not a Hugging Face model directory"):
            register_model(con, tmp_path, kind="registered", settings=get_settings())


def test_reports_are_written_next_to_the_model(tmp_path):
    with open_warehouse(get_settings()) as con:
        register_model(
            con, _fake_model(tmp_path, "a"), kind="bootstrap", model_id="a", settings=get_settings()
        )
        uri = write_artifact_json(get_model(con, "a"), "eval_report.json", {"loss": 1.5})
    assert json.loads(Path(uri).read_text()) == {"loss": 1.5}


def test_s3_artifacts_round_trip(tmp_path, monkeypatch):
    """The artifact store on a real S3 endpoint (moto's server on loopback)."""
    from moto.server import ThreadedMotoServer

    from echo_ops.config import reset_settings_cache

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "ECHO_STORAGE__S3_ENDPOINT_URL": f"http://{host}:{port}",
                     "ECHO_STORAGE__ARTIFACTS_URI": "s3://echo-models/registry"}.items():  # fmt: skip
            monkeypatch.setenv(k, v)
        reset_settings_cache()
        from echo_ops.storage import s3_client

        s3_client(get_settings().storage).create_bucket(Bucket="echo-models")
        with open_warehouse(get_settings()) as con:
            register_model(
                con,
                _fake_model(tmp_path, "a"),
                kind="bootstrap",
                model_id="a",
                settings=get_settings(),
            )
            record = get_model(con, "a")
        assert record.artifact_uri == "s3://echo-models/registry/a"
        local = fetch_model_dir(record, get_settings())
        assert local == get_settings().data_root / "model_cache" / "a"
        assert (local / "weights.bin").read_bytes() == b"a"
    finally:
        server.stop()
