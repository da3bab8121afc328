"""Ingest: bad lines quarantined with file/line/reason, dedup counted, manifest, threshold, S3."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from eventkit import Kit

from echo_ops.ingest import IngestError, ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 20)


def _landing(settings) -> Path:
    return Path(settings.storage.landing_uri)


def _client_lines(kit: Kit) -> list[str]:
    return [json.dumps(e) for e in kit.client]


def _write(landing: Path, source: str, name: str, body: bytes) -> None:
    folder = landing / source / f"ds={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(body)


def _kit() -> Kit:
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    d.show("c1", 6, "y = 2")
    d.accept("c1", 6, "y = 2")
    d.close()
    return kit


def test_bad_lines_are_quarantined_with_line_and_reason(settings, monkeypatch):
    monkeypatch.setattr(settings.extract, "max_quarantine_rate", 1.0)
    kit = _kit()
    lines = _client_lines(kit)
    bad = [
        '{"schema_version": 1, "event_id": ',  # truncated in transit
        "",
        json.dumps({**kit.client[0], "event_id": "no-doc", "doc": None}),
        lines[1],  # an exact duplicate
    ]
    body = ("\n".join(lines + bad) + "\n").encode() + b"\xff\xfe not utf-8\n"
    _write(_landing(settings), "client", "part-0.jsonl", body)
    _write(
        _landing(settings),
        "server",
        "part-0.jsonl.gz",
        gzip.compress(("\n".join(json.dumps(e) for e in kit.server) + "\n").encode()),
    )
    con = connect(settings)
    result = ingest_day(con, DAY, settings)
    got = con.execute(
        "select line_no, split_part(reason, ':', 1) from ops.quarantine where stage = 'ingest' order by line_no"
    ).fetchall()
    n = len(lines)
    assert got == [
        (n + 1, "invalid_json"),
        (n + 2, "empty_line"),
        (n + 3, "schema"),
        (n + 5, "invalid_utf8"),
    ]
    assert result.loaded == {"client": n, "server": 1}
    assert result.duplicates["client"] == 1
    assert con.execute("select count(*) from raw.client_events").fetchone()[0] == n


def test_rerun_replaces_the_day_and_a_changed_object_is_reported(settings):
    kit = _kit()
    kit.write(_landing(settings), DAY)
    con = connect(settings)
    ingest_day(con, DAY, settings)
    first = con.execute("select count(*) from raw.client_events").fetchone()[0]
    again = ingest_day(con, DAY, settings)
    assert con.execute("select count(*) from raw.client_events").fetchone()[0] == first
    assert again.changed_objects == []
    statuses = con.execute("select status from ops.manifest where source = 'client'").fetchall()
    assert statuses == [("unchanged",)]
    kit.open("file:///b.py", "z\n")
    kit.write(_landing(settings), DAY)
    changed = ingest_day(con, DAY, settings)
    assert changed.changed_objects == ["client/ds=2026-11-20/part-0.jsonl"]


def test_too_many_bad_lines_fail_loudly_with_examples(settings):
    kit = _kit()
    lines = _client_lines(kit) + ["garbage"] * 3
    _write(_landing(settings), "client", "part-0.jsonl", ("\n".join(lines) + "\n").encode())
    con = connect(settings)
    with pytest.raises(IngestError, match=r"invalid_json.*part-0.jsonl line \d+"):
        ingest_day(con, DAY, settings)
    # what was refused is still recorded for on-call
    assert con.execute("select count(*) from ops.quarantine").fetchone()[0] == 3


@pytest.mark.timeout(120)
def test_ingest_from_s3_via_moto_server(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    from echo_ops.config import get_settings, reset_settings_cache

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("ECHO_STORAGE__S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("ECHO_STORAGE__LANDING_URI", "s3://landing/echo")
        reset_settings_cache()
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="landing")
        kit = _kit()
        body = gzip.compress(("\n".join(_client_lines(kit)) + "\n").encode())
        s3.put_object(Bucket="landing", Key="echo/client/ds=2026-11-20/p.jsonl.gz", Body=body)
        settings = get_settings()
        con = connect(settings)
        result = ingest_day(con, DAY, settings)
        assert result.loaded["client"] == len(kit.client)
        (sha,) = con.execute("select sha256 from ops.manifest where source = 'client'").fetchone()
        import hashlib

        assert sha == hashlib.sha256(body).hexdigest()
    finally:
        server.stop()


def test_wrong_types_are_quarantined_not_crashing(settings, monkeypatch):
    monkeypatch.setattr(settings.extract, "max_quarantine_rate", 1.0)
    kit = _kit()
    change = next(e for e in kit.client if e["type"] == "document.changed")
    bad_change = json.loads(json.dumps(change))
    bad_change["event_id"] = "x1"
    bad_change["changes"][0]["range"]["start"]["line"] = "abc"
    lines = [json.dumps(e) for e in kit.client] + [
        json.dumps(bad_change),
        json.dumps({**kit.client[0], "event_id": "x2", "schema_version": "1"}),
        json.dumps({**kit.client[0], "event_id": "x3", "ts": 1700000000}),
        json.dumps({**kit.client[0], "event_id": "x4", "type": "editor.focus_changed"}),
        json.dumps({**kit.client[0], "event_id": "x5", "text": "#" * 1_100_000}),
    ]
    server = [
        json.dumps(kit.server[0]),
        json.dumps({**kit.server[0], "request_id": "r~x", "latency_ms": "fast"}),
    ]
    _write(_landing(settings), "client", "part-0.jsonl", ("\n".join(lines) + "\n").encode())
    _write(_landing(settings), "server", "part-0.jsonl", ("\n".join(server) + "\n").encode())
    con = connect(settings)
    result = ingest_day(con, DAY, settings)
    assert result.loaded == {"client": len(kit.client), "server": 1}
    reasons = con.execute(
        "select split_part(reason, ':', 1), count(*) from ops.quarantine group by 1 order by 1"
    ).fetchall()
    assert reasons == [("oversize_line", 1), ("schema", 5)]


def test_plain_edits_live_in_columns_others_keep_their_json(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    plain = d.change((0, 0, "# "))
    several = d.change((0, 0, "a"), (1, 1, "b"))
    shown = d.show("c1", 3, "y = 2")
    kit.write(_landing(settings), DAY)
    con = connect(settings)
    ingest_day(con, DAY, settings)
    rows = dict(
        con.execute(
            "select event_id, (payload is not null, client_name, client_version, change_text) "
            "from raw.client_events"
        ).fetchall()
    )
    client = (plain["client"]["name"], plain["client"]["version"])
    assert rows[plain["event_id"]] == (False, *client, "# ")
    assert rows[several["event_id"]] == (True, *client, "a")
    assert rows[shown["event_id"]][0] is True
    (payload,) = con.execute(
        "select payload from raw.client_events where event_id = ?", [several["event_id"]]
    ).fetchone()
    assert json.loads(payload) == several


def test_a_copy_with_other_content_is_quarantined_an_exact_copy_is_counted(settings, monkeypatch):
    monkeypatch.setattr(settings.extract, "max_quarantine_rate", 1.0)
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    edit = d.change((0, 0, "# "))
    forged = {**edit, "changes": [{**edit["changes"][0], "text": "#!"}]}
    lines = [*_client_lines(kit), json.dumps(edit), json.dumps(forged)]
    _write(_landing(settings), "client", "part-0.jsonl", ("\n".join(lines) + "\n").encode())
    con = connect(settings)
    result = ingest_day(con, DAY, settings)
    got = con.execute(
        "select line_no, split_part(reason, ':', 1), raw_text from ops.quarantine"
    ).fetchall()
    assert [(n, r) for n, r, _ in got] == [(len(lines), "duplicate_conflict")]
    assert '"#!"' in got[0][2]  # the conflicting copy's content, though its payload is not kept
    assert result.duplicates["client"] == 2  # both later copies are gone from raw
    assert con.execute(
        "select change_text from raw.client_events where event_id = ?", [edit["event_id"]]
    ).fetchall() == [("# ",)]


def test_a_warehouse_from_before_payload_was_optional_is_upgraded(settings):
    con = connect(settings)
    con.execute("create schema if not exists raw")
    con.execute(  # the client table as ingest created it before: JSON payload, required
        "create table raw.client_events (ds date not null, event_id varchar not null, "
        "type varchar not null, ts timestamp not null, user_id varchar not null, "
        "session_id varchar not null, doc_uri varchar, doc_version bigint, language_id varchar, "
        "position_encoding varchar not null, completion_id varchar, request_id varchar, "
        "object_key varchar not null, line_no bigint not null, payload json not null, "
        "change_count bigint, change_start_line bigint, change_start_character bigint, "
        "change_end_line bigint, change_end_character bigint, change_text varchar, "
        "accepted_text varchar, accept_kind varchar, reject_reason varchar)"
    )
    kit = _kit()
    kit.write(_landing(settings), DAY)
    result = ingest_day(con, DAY, settings)
    assert result.loaded["client"] == len(kit.client)
    columns = dict(
        con.execute(
            "select column_name, data_type || ' ' || is_nullable from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'client_events'"
        ).fetchall()
    )
    assert columns["payload"] == "VARCHAR YES"
    assert columns["client_name"] == "VARCHAR YES"
    ingest_day(con, DAY, settings)  # and again, now that nothing is left to change
    assert con.execute("select count(*) from raw.client_events").fetchone() == (len(kit.client),)
