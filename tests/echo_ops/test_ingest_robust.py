"""Ingest: one bad object never blocks a day; lines split as JSON Lines readers split them;
the contract decides duplicate keys and non-finite numbers; links are refused."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path

import pytest
from eventkit import Kit

from echo_ops.errors import DataError
from echo_ops.ingest import IngestError, ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 20)


def _folder(settings, source: str) -> Path:
    folder = Path(settings.storage.landing_uri) / source / f"ds={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _events(copies: int) -> tuple[list[str], list[str]]:
    """`copies` editing sessions' client lines (distinct ids) and their server lines."""
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    d.show("c1", 6, "y = 2")
    d.accept("c1", 6, "y = 2")
    d.close()
    client, server = [], []
    for k in range(copies):
        for e in kit.client:
            client.append(json.dumps({**e, "event_id": f"{e['event_id']}-{k}"}))
        for e in kit.server:
            server.append(json.dumps({**e, "request_id": f"{e['request_id']}-{k}"}))
    return client, server


def _quarantine(con) -> list[tuple]:
    return con.execute(
        "select object_key, line_no, split_part(reason, ':', 1) from ops.quarantine "
        "where stage = 'ingest' order by 1, 2"
    ).fetchall()


def test_bad_objects_are_quarantined_and_the_day_goes_on(settings):
    client, server = _events(300)
    folder = _folder(settings, "client")
    (folder / "good.jsonl.gz").write_bytes(gzip.compress(("\n".join(client[:-40]) + "\n").encode()))
    (folder / "zero.jsonl.gz").write_bytes(b"")
    (folder / "plain.jsonl.gz").write_bytes(("\n".join(client[-40:-37]) + "\n").encode())
    whole = gzip.compress(("\n".join(client[-37:-20]) + "\n").encode())
    (folder / "trunc.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    huge = '{"pad": "' + "x" * (20 << 20) + '"}'
    (folder / "huge.jsonl").write_text("\n".join([client[-20], huge, client[-19]]) + "\n")
    deep = "[" * 10_000 + "]" * 10_000
    (folder / "deep.jsonl").write_text("\n".join([client[-18], deep, *client[-17:]]) + "\n")
    _folder(settings, "server").joinpath("s.jsonl").write_text("\n".join(server) + "\n")

    con = connect(settings)
    result = ingest_day(con, DAY, settings)  # was: BadGzipFile / RecursionError / DuckDB's advice

    got = _quarantine(con)
    assert ("client/ds=2026-11-20/zero.jsonl.gz", 0, "unreadable_object") in got
    assert ("client/ds=2026-11-20/plain.jsonl.gz", 0, "unreadable_object") in got
    assert ("client/ds=2026-11-20/huge.jsonl", 2, "oversize_line") in got
    assert ("client/ds=2026-11-20/deep.jsonl", 2, "too_deep") in got
    trunc = [g for g in got if g[0].endswith("trunc.jsonl.gz")]
    assert len(trunc) == 1 and trunc[0][2] == "truncated_object"
    assert len(got) == 5
    # every good line outside the unreadable objects loaded; the truncated one kept its head
    loaded = con.execute("select count(*) from raw.client_events").fetchone()[0]
    assert len(client) - 40 + 2 + 17 + 1 <= loaded + 17 - (trunc[0][1] - 1) <= len(client)
    assert result.loaded["server"] == len(server)
    summary = con.execute(
        "select lines, valid, quarantined from ops.ingest_summary where source = 'client'"
    ).fetchone()
    assert summary[0] == summary[1] + summary[2]  # every line is valid or quarantined


def test_an_unreadable_day_is_a_data_error_not_a_transient_one(settings):
    _folder(settings, "client").joinpath("plain.jsonl.gz").write_text('{"a": 1}\n')
    with pytest.raises(IngestError, match=r"plain.jsonl.gz line 0: unreadable_object") as info:
        ingest_day(connect(settings), DAY, settings)
    assert isinstance(info.value, DataError)  # the DAG fails it at once, no retry


def test_crlf_lines_count_once_and_u2028_is_text(settings):
    client, server = _events(50)
    client[5] = client[5].replace('"x = 1\\n"', '"x = 1\u2028\\n"')  # a raw U+2028 in a string
    assert "\u2028" in client[5]
    _folder(settings, "client").joinpath("crlf.jsonl").write_bytes(
        ("\r\n".join(client) + "\r\n").encode("utf-8")
    )
    _folder(settings, "server").joinpath("crlf.jsonl.gz").write_bytes(
        gzip.compress(("\r\n".join(server) + "\r\n").encode())
    )
    con = connect(settings)
    result = ingest_day(con, DAY, settings)  # was: a quarantine rate of 50% (empty lines)
    assert _quarantine(con) == []
    assert result.loaded == {"client": len(client), "server": len(server)}
    lines = con.execute("select max(line_no) from raw.client_events").fetchone()[0]
    assert lines == len(client)
    text = con.execute("select payload from raw.client_events where line_no = 6").fetchone()[0]
    assert "\u2028" in json.loads(text)["text"]


def test_duplicate_keys_and_non_finite_numbers_are_refused_with_reasons(settings, monkeypatch):
    monkeypatch.setattr(settings.extract, "max_quarantine_rate", 1.0)
    client, server = _events(2)
    event = json.loads(client[0])
    twice = json.dumps(event)[:-1] + ', "user_id": "someone-else"}'
    before = '{"user_id": "someone-else", ' + json.dumps({**event, "event_id": "x2"})[1:]
    _folder(settings, "client").joinpath("c.jsonl").write_text(
        "\n".join([twice, before, *client[1:]]) + "\n"
    )
    bad_server = [
        server[0].replace('"latency_ms": 40', f'"latency_ms": {v}')
        for v in ("NaN", "Infinity", "1e400")
    ]
    assert all(b != server[0] for b in bad_server)
    _folder(settings, "server").joinpath("s.jsonl").write_text(
        "\n".join([*bad_server, *server[1:]]) + "\n"
    )
    con = connect(settings)
    ingest_day(con, DAY, settings)
    reasons = {(k.split("/")[0], n): r for k, n, r in _quarantine(con)}
    assert reasons == {
        ("client", 1): "duplicate_key",
        ("client", 2): "duplicate_key",
        ("server", 1): "non_finite_number",
        ("server", 2): "non_finite_number",
        ("server", 3): "non_finite_number",
    }
    assert con.execute("select count(*) from raw.server_events where not isfinite(latency_ms)").fetchone() == (0,)  # fmt: skip


def test_a_link_out_of_the_landing_zone_is_refused(settings, tmp_path):
    client, server = _events(5)
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"secret": "from /etc or another tenant"}\n' + client[0] + "\n")
    folder = _folder(settings, "client")
    folder.joinpath("real.jsonl").write_text("\n".join(client[1:]) + "\n")
    os.symlink(outside, folder / "link.jsonl")
    _folder(settings, "server").joinpath("s.jsonl").write_text("\n".join(server) + "\n")
    con = connect(settings)
    monkey_rate = settings.extract.max_quarantine_rate
    settings.extract.max_quarantine_rate = 1.0
    try:
        result = ingest_day(con, DAY, settings)
    finally:
        settings.extract.max_quarantine_rate = monkey_rate
    assert _quarantine(con) == [("client/ds=2026-11-20/link.jsonl", 0, "symlink_refused")]
    texts = con.execute("select raw_text from ops.quarantine").fetchall()
    assert not any("another tenant" in t for (t,) in texts)
    assert result.loaded["client"] == len(client) - 1
