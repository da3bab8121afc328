"""Erasure that touches only the user's rows and finds every trace of them: unknown
users and second runs change nothing; server requests never shown, escaped ids,
duplicate keys and U+2028 lines are found; freed blocks and stale publish copies go."""

from __future__ import annotations

import base64
import gzip
import json
import random
from datetime import date
from pathlib import Path

from echo_ops import storage
from echo_ops.consent import forget, forget_user
from echo_ops.warehouse import connect, parquet_dir, publish_snapshot

DAY = date(2026, 11, 20)
CLIENT = "client/ds=2026-11-20/part-0.jsonl.gz"
SERVER = "server/ds=2026-11-20/part-0.jsonl"
USER = "u-4f0e9a1b2c3d"


def _shown(i: int, user: str) -> str:
    return json.dumps(
        {
            "event_id": f"e{i}",
            "type": "completion.shown",
            "user_id": user,
            "completion_id": f"c{i}",
            "request_id": f"r{i}",
        }  # fmt: skip
    )


def _server(rid: str, user: str | None = None) -> str:
    event = {"request_id": rid, "completion": f"code for {rid}"}
    return json.dumps({**event, "user_id": user} if user else event)


def _landing(root: str) -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in USER)
    client = [
        _shown(0, USER),
        _shown(1, "u2"),
        # raw U+2028 inside a string: one line for JSON Lines readers, two for str.splitlines
        f'{{"event_id":"e2","type":"document.opened","user_id":"{USER}","text":"a\u2028b"}}',
        f'{{"event_id":"e3","type":"document.opened","user_id":"{escaped}","text":"x"}}',
        # duplicate keys: DuckDB reads the first, Python the last; both name the user here
        f'{{"event_id":"e4","user_id":"u2","user_id":"{USER}"}}',
        f'{{"event_id":"e5","user_id":"{USER}","user_id":"u2"}}',
        _shown(6, "u3"),
    ]
    body = "\r\n".join(client) + "\r\n"  # a CRLF object: the kept lines keep their breaks
    storage.write_bytes(root, CLIENT, gzip.compress(body.encode("utf-8")))
    server = [_server("r0"), _server("r1"), _server("r9", USER), _server("r6")]
    storage.write_bytes(root, SERVER, ("\n".join(server) + "\n").encode())


def _warehouse(con) -> None:
    con.execute(
        "create table raw.client_events (ds date, event_id varchar, user_id varchar, "
        "request_id varchar, completion_id varchar)"
    )
    con.execute(
        "create table raw.server_events (ds date, request_id varchar, user_id varchar, completion varchar)"
    )
    con.execute(
        "create table ops.extract_deferred (ds date, completion_id varchar, reason varchar)"
    )
    for i, u in ((0, USER), (1, "u2"), (6, "u3")):
        con.execute("insert into raw.client_events values (?, ?, ?, ?, ?)", [DAY, f"e{i}", u, f"r{i}", f"c{i}"])  # fmt: skip
        con.execute("insert into ops.extract_deferred values (?, ?, 'gap')", [DAY, f"c{i}"])
    for rid, u in (("r0", None), ("r1", None), ("r9", USER), ("r6", None), ("", None)):
        con.execute("insert into raw.server_events values (?, ?, ?, 'x')", [DAY, rid, u])
    # Other people's quarantined lines, with no request_id (the [""] trap) and with one.
    for text in ('{"user_id": "u2", "broken', "not json at all", '{"request_id": "r1", "x": NaN}'):
        con.execute(
            "insert into ops.quarantine (ds, stage, reason, raw_text) values (?, 'ingest', 'bad', ?)",
            [DAY, text],
        )
    escaped = "".join(f"\\u{ord(c):04x}" for c in USER)
    con.execute(
        "insert into ops.quarantine (ds, stage, reason, raw_text) values (?, 'ingest', 'bad', ?)",
        [DAY, f'{{"user_id": "{escaped}", "cut off'],
    )
    for run, bad in (
        ("a", {"user_id": "u2"}),
        ("b", {"note": "no ids"}),
        ("c", {"request_id": "r9"}),
    ):
        con.execute(
            "insert into ops.dq_results (run_id, suite, expectation, severity, success, details_json) "
            "values (?, 'raw_client', 'x', 'blocking', false, ?)",
            [run, json.dumps({"bad_rows": [bad]})],
        )


_OWN = ("ops.consent", "ops.erasure_audit", "ops.run_log")


def _state(con, root: str) -> dict:
    tables = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database()"
    ).fetchall()
    state = {
        t: sorted(map(str, con.execute(f"select * from {t}").fetchall()))
        for (t,) in tables
        if t not in _OWN
    }
    for obj in storage.list_objects(root):
        state[obj.key] = storage.read_bytes(root, obj.key)
    return state


def _setup(settings):
    root = settings.storage.landing_uri
    _landing(root)
    con = connect(settings)
    _warehouse(con)
    return con, root


def test_forget_for_an_unknown_user_and_a_second_forget_change_nothing(settings):
    con, root = _setup(settings)
    before = _state(con, root)
    forget_user(con, "nobody", settings)
    assert _state(con, root) == before  # was: every other user's quarantine row deleted
    forget_user(con, USER, settings)
    once = _state(con, root)
    report = forget_user(con, USER, settings)
    assert _state(con, root) == once and report.total == 0
    assert con.execute("select count(*) from ops.quarantine").fetchone() == (3,)
    assert con.execute("select count(*) from raw.server_events where request_id = ''").fetchone() == (1,)  # fmt: skip


def test_forget_finds_every_trace_through_every_key(settings):
    con, root = _setup(settings)
    report = forget_user(con, USER, settings)

    client = gzip.decompress(storage.read_bytes(root, CLIENT)).decode("utf-8")
    assert USER not in client and "\\u0075" not in client
    assert client == _shown(1, "u2") + "\r\n" + _shown(6, "u3") + "\r\n"
    server = storage.read_bytes(root, SERVER).decode()
    # r0: through the user's shown event; r9: a request never shown, named by the server
    assert [json.loads(x)["request_id"] for x in server.splitlines()] == ["r1", "r6"]
    assert report.removed[f"landing:{CLIENT}"] == 5 and report.removed[f"landing:{SERVER}"] == 2

    rows = con.execute("select request_id from raw.server_events order by 1").fetchall()
    assert rows == [("",), ("r1",), ("r6",)]
    texts = [t for (t,) in con.execute("select raw_text from ops.quarantine order by 1").fetchall()]
    assert len(texts) == 3 and not any("\\u0075" in t for t in texts)
    runs = con.execute("select run_id from ops.dq_results order by 1").fetchall()
    assert runs == [("a",), ("b",)]
    assert con.execute("select completion_id from ops.extract_deferred order by 1").fetchall() == [
        ("c1",),
        ("c6",),
    ]


def test_forget_scrubs_freed_blocks_and_stale_publish_copies(settings):
    con = connect(settings)
    con.execute("create table training.examples (ds date, user_id varchar, target varchar)")
    # Text that does not compress (as real payloads): DuckDB stores it as it is.
    rng = random.Random(7)
    users = [USER if i % 2 == 0 else "u2" for i in range(4000)]
    texts = [
        f'{{"user_id":"{u}","text":"{base64.b64encode(rng.randbytes(600)).decode()}"}}'
        for u in users
    ]
    con.execute("insert into training.examples select ?, unnest(?), unnest(?)", [DAY, users, texts])
    con.execute("create table marts.fct_users as select unnest(?) as user_id", [users])
    con.execute("force checkpoint")
    published = Path(settings.storage.published_path)
    publish_snapshot(con, published)
    con.close()
    exports = parquet_dir(published)
    in_exports = lambda: sum(p.read_bytes().count(USER.encode()) for p in exports.iterdir())  # noqa: E731
    assert published.read_bytes().count(USER.encode()) > 0 and in_exports() > 0
    # what a publish killed half-way leaves behind, holding the user's rows
    stale = [published.with_name(f".{published.name}.dead{i}.tmp{s}") for i, s in ((1, ""), (1, ".wal"))]  # fmt: skip
    for path in stale:
        path.write_bytes(USER.encode() * 10)

    warehouse = Path(settings.storage.warehouse_path)
    assert warehouse.read_bytes().count(USER.encode()) > 100
    report = forget(USER, "dpo@test", settings)

    # What stays is the suppression record (ops.consent: the id, opted out), so a late
    # event cannot bring the user back; the erased rows were still in free blocks.
    assert warehouse.read_bytes().count(USER.encode()) <= 2
    assert published.read_bytes().count(USER.encode()) == 0
    assert in_exports() == 0  # the Parquet export was re-published too
    assert not any(p.exists() for p in stale)
    assert report.removed["published_temp_files"] == 2
    assert report.removed["training.examples"] == 2000
    con = connect(settings)
    assert con.execute("select count(*) from training.examples").fetchone() == (2000,)
    assert con.execute("select opted_out from ops.consent where user_id = ?", [USER]).fetchone() == (True,)  # fmt: skip
    places = {p for (p,) in con.execute("select place from ops.erasure_audit").fetchall()}
    assert {"training.examples", "published_copy", "published_temp_files"} <= places
    con.close()


def test_forget_reports_what_it_removed_per_layer(settings):
    con, root = _setup(settings)
    report = forget_user(con, USER, settings)
    layers = report.by_layer()
    assert layers["landing"] == 7 and layers["raw"] == 3 and layers["ops"] == 3
    assert set(layers) >= {"landing", "raw", "ops", "published"}
