"""Consent and erasure: a forgotten user is gone from every layer, the published copy,
the landing zone (local and S3 on a loopback moto server) and truth, with an audit trail."""

from __future__ import annotations

import gzip
import json
from datetime import date

import duckdb
import pytest

from echo_ops import storage
from echo_ops.config import get_settings, reset_settings_cache
from echo_ops.consent import filter_consented, forget_user, set_consent
from echo_ops.warehouse import connect, publish_snapshot

DAY = date(2026, 11, 20)
KEY = "client/ds=2026-11-20/part-0.jsonl.gz"


def _client(i: int, user: str) -> dict:
    return {
        "schema_version": 1,
        "event_id": f"e{i}",
        "type": "completion.shown",
        "ts": "2026-11-20T09:00:00Z",
        "user_id": user,
        "session_id": "s",
        "completion_id": f"c{i}",
        "request_id": f"r{i}",
    }


def _write_landing(root: str) -> None:
    users = ["u1", "u2", "u1", "u10"]
    client = "".join(json.dumps(_client(i, u)) + "\n" for i, u in enumerate(users)).encode()
    storage.write_bytes(root, KEY, gzip.compress(client), get_settings().storage)
    server = "".join(
        json.dumps({"request_id": f"r{i}", "completion": f"code {i}"}) + "\n" for i in range(4)
    )
    storage.write_bytes(
        root, "server/ds=2026-11-20/part-0.jsonl", server.encode(), get_settings().storage
    )


def _build_warehouse(con) -> None:
    con.execute(
        "create table raw.client_events (ds date, event_id varchar, user_id varchar, request_id varchar)"
    )
    con.execute("create table raw.server_events (ds date, request_id varchar, completion varchar)")
    con.execute(
        "create table training.examples (ds date, example_id varchar, user_id varchar, target varchar)"
    )
    con.execute("create table marts.fct_new_table_later (ds date, user_id varchar, n int)")
    con.execute(
        "create table ops.extract_deferred (ds date, completion_id varchar, reason varchar)"
    )
    users = ["u1", "u2", "u1", "u10"]
    for i, u in enumerate(users):
        con.execute("insert into raw.client_events values (?, ?, ?, ?)", [DAY, f"e{i}", u, f"r{i}"])
        con.execute("insert into raw.server_events values (?, ?, ?)", [DAY, f"r{i}", f"code {i}"])
        con.execute("insert into training.examples values (?, ?, ?, ?)", [DAY, f"x{i}", u, "t"])
        con.execute("insert into marts.fct_new_table_later values (?, ?, 1)", [DAY, u])
        con.execute("insert into ops.extract_deferred values (?, ?, 'gap')", [DAY, f"c{i}"])
    con.execute(
        "insert into ops.quarantine (ds, stage, reason, raw_text) values (?, 'ingest', 'bad', ?)",
        [DAY, '{"user_id": "u1", "broken'],
    )
    for run, bad in (("a", {"user_id": "u1", "event_id": "e0"}), ("b", {"user_id": "u10"})):
        con.execute(
            "insert into ops.dq_results (run_id, suite, expectation, severity, success, details_json) "
            "values (?, 'raw_client', 'x', 'blocking', false, ?)",
            [run, json.dumps({"bad_rows": [bad]})],
        )


def _truth(settings) -> None:
    path = settings.storage.truth_dir / "ds=2026-11-20" / "completions.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        "".join(
            json.dumps({"completion_id": f"c{i}", "user_id": u}) + "\n"
            for i, u in enumerate(["u1", "u2"])
        )
    )


def _landing_lines(root: str) -> tuple[list[dict], list[dict]]:
    client = (
        gzip.decompress(storage.read_bytes(root, KEY, get_settings().storage)).decode().splitlines()
    )
    server = (
        storage.read_bytes(root, "server/ds=2026-11-20/part-0.jsonl", get_settings().storage)
        .decode()
        .splitlines()
    )
    return [json.loads(x) for x in client], [json.loads(x) for x in server]


def _forget_and_check(settings) -> None:
    root = settings.storage.landing_uri
    _write_landing(root)
    _truth(settings)
    con = connect(settings)
    _build_warehouse(con)
    publish_snapshot(con, settings.storage.published_path)
    report = forget_user(con, "u1", get_settings(), requested_by="dpo@test")

    for table in ("raw.client_events", "training.examples", "marts.fct_new_table_later"):
        assert con.execute(f"select count(*) from {table} where user_id = 'u1'").fetchone() == (0,)
        assert con.execute(
            f"select count(*) from {table} where user_id in ('u2', 'u10')"
        ).fetchone() == (2,)
    assert sorted(
        r for (r,) in con.execute("select request_id from raw.server_events").fetchall()
    ) == ["r1", "r3"]
    assert con.execute("select count(*) from ops.quarantine").fetchone() == (0,)
    assert con.execute("select run_id from ops.dq_results").fetchall() == [("b",)]
    deferred = con.execute("select completion_id from ops.extract_deferred order by 1").fetchall()
    assert deferred == [("c1",), ("c3",)]
    client, server = _landing_lines(root)
    assert [c["user_id"] for c in client] == ["u2", "u10"]
    assert [s["request_id"] for s in server] == ["r1", "r3"]
    truth = (settings.storage.truth_dir / "ds=2026-11-20" / "completions.jsonl").read_text()
    assert '"u1"' not in truth and '"u2"' in truth
    pub = duckdb.connect(str(settings.storage.published_path), read_only=True)
    assert pub.execute(
        "select count(*) from marts.fct_new_table_later where user_id = 'u1'"
    ).fetchone() == (0,)
    assert (
        pub.execute(
            "select count(*) from marts.fct_new_table_later where user_id = 'u2'"
        ).fetchone()[0]
        > 0
    )  # the copy was re-published, not emptied
    pub.close()

    audit = dict(
        con.execute(
            "select place, rows_removed from ops.erasure_audit where erasure_id = ?",
            [report.erasure_id],
        ).fetchall()
    )
    assert (
        audit["training.examples"] == 2
        and audit["raw.server_events"] == 2
        and audit[f"landing:{KEY}"] == 2
    )
    assert audit["published_copy"] == 1
    assert con.execute(
        "select count(*) from ops.erasure_audit where user_id_hash = 'u1'"
    ).fetchone() == (0,)
    # Forgotten means opted out: the next training run cannot see the user either.
    assert con.execute("select opted_out from ops.consent where user_id = 'u1'").fetchone() == (
        True,
    )
    con.close()


def test_forget_erases_everywhere_local(settings):
    _forget_and_check(settings)


@pytest.fixture
def s3_landing(monkeypatch):
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("ECHO_STORAGE__S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ECHO_STORAGE__LANDING_URI", "s3://echo-landing/prod")
    reset_settings_cache()
    storage.s3_client(get_settings().storage).create_bucket(Bucket="echo-landing")
    yield get_settings()
    server.stop()


def test_forget_erases_everywhere_s3(s3_landing):
    _forget_and_check(s3_landing)


def test_opted_out_user_is_filtered_from_training_rows(settings):
    con = connect(settings)
    set_consent(con, "u1", True)
    set_consent(con, "u2", True)
    set_consent(con, "u2", False)
    kept, dropped = filter_consented(con, [{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}])
    assert [r["user_id"] for r in kept] == ["u2", "u3"] and dropped == 1


def test_forget_refuses_an_empty_user(settings):
    con = connect(settings)
    with pytest.raises(ValueError, match="non-empty"):
        forget_user(con, "  ", get_settings())
