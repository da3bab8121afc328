"""Extraction end to end on hand-made sessions with known answers."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from eventkit import Kit, align_and_extract

from echo_ops.config import get_settings
from echo_ops.ingest import ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 20)


def _run(settings, kit: Kit, days=(DAY,)):
    kit.write(Path(settings.storage.landing_uri), DAY)
    con = connect(get_settings())
    for day in days:
        ingest_day(con, day, settings)
        align_and_extract(con, day, settings)
    return con


def _rows(con):
    return {
        cid: (outcome, final, reason)
        for cid, outcome, final, reason in con.execute(
            "select completion_id, outcome, final_text, settled_reason from staging.refinements"
        ).fetchall()
    }


def test_outcomes_and_final_texts(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "def f():\n    \n")
    d.show("kept", 13, "return 1")
    d.accept("kept", 13, "return 1")
    d.type(21, "  # edge")  # typed at the accepted region's end: stays outside
    d.save(dt=12)
    d.show("refined", len(d.text), "\nx = [1, 2]", dt=1)
    end = len(d.text)
    d.accept("refined", end, "\nx = [1, 2]", before=[(end - 1, end - 1, "")], after=[])
    d.change((len(d.text) - 2, len(d.text) - 1, "3"))  # inside: refined
    d.show("written", len(d.text), "y = 0", dt=12)
    d.type(len(d.text), "z = 9\nq")  # the person writes their own: rejection after keystrokes
    d.reject("written", "typed_over")
    d.show("ignored", len(d.text), "w = 1", dt=12)
    d.show("deleted", len(d.text), " # c", dt=12)
    n = len(d.text)
    d.accept("deleted", n, " # c")
    d.change((n, n + 4, ""))  # one undo removes it all
    d.close(dt=12)
    con = _run(settings, kit)
    rows = _rows(con)
    assert rows["kept"] == ("accepted_kept", "return 1", "quiet")
    assert rows["refined"][0:2] == ("accepted_refined", "\nx = [1, 3]")
    assert rows["written"][0:2] == (
        "rejected_written",
        "z = 9",
    )  # a line break ends a one-line region
    assert rows["ignored"][0:2] == ("rejected_empty", "")
    assert rows["deleted"][0:2] == ("accepted_deleted", "")
    acc = con.execute(
        "select shown, extracted, deferred, quarantined, unaccounted from ops.extract_accounting"
    ).fetchone()
    assert acc == (5, 5, 0, 0, 0)


def test_word_accepts_extend_and_multi_change_accept(settings):
    kit = Kit(encoding="utf-8")
    d = kit.open("file:///é.py", "# é\nv = \n")
    d.show("w", 8, "compute(x)")
    d.accept("w", 8, "compute", kind="word")
    d.accept("w", 15, "(", kind="word")
    d.type(16, "y)")
    d.close(dt=12)
    rows = _rows(_run(settings, kit))
    # edge rule: what the person typed after the accepted words stays outside
    assert rows["w"][0:2] == ("partial_accepted", "compute(")


def test_late_event_defers_then_extracts_and_backfill_order_is_irrelevant(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = \n")
    d.show("c", 4, "1")
    d.accept("c", 4, "1")
    d.type(5, "")  # nothing
    d.change((4, 5, "2"), dt=1)
    d.close(dt=12)
    late = [e for e in kit.client if e["type"] == "document.changed"][-1]
    day1 = [e for e in kit.client if e is not late]
    landing = Path(settings.storage.landing_uri)
    kit.write(landing, DAY, client=day1)
    kit.write(
        landing,
        DAY + timedelta(days=1),
        client=[late],
        server=[
            {
                "request_id": "unrelated",
                "ts": "2026-11-21T00:00:00Z",
                "model_version": "m",
                "prompt": {"prefix": "", "suffix": ""},
                "completion": "",
                "latency_ms": 1,
            }
        ],
    )

    def run(order):
        con = connect(Path(settings.data_root) / f"w-{'-'.join(str(o.day) for o in order)}.duckdb")
        for day in order:
            ingest_day(con, day, settings)
            align_and_extract(con, day, settings)
        return con

    a = run([DAY, DAY + timedelta(days=1)])
    assert a.execute("select ds, reason from ops.extract_deferrals").fetchall() == [
        (DAY, "doc_version_gap")
    ]
    assert a.execute("select ds, final_text from staging.refinements").fetchall() == [
        (DAY + timedelta(days=1), "2")
    ]
    b = run([DAY + timedelta(days=1), DAY, DAY + timedelta(days=1), DAY])
    assert _hash(a) == _hash(b)


def test_a_copy_redelivered_on_the_next_day_is_walked_once(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = \n")
    d.show("c", 4, "1")
    d.accept("c", 4, "1")
    d.change((4, 5, "12"), dt=1)  # replaces the accepted "1": a copy would apply it twice
    d.close(dt=12)
    # Day 1 ends before the region settles; day 2 brings the close and a copy of the edit.
    again = [e for e in kit.client if e["type"] == "document.changed"][-1]
    closed = kit.client[-1]
    landing = Path(settings.storage.landing_uri)
    kit.write(landing, DAY, client=kit.client[:-1])
    kit.write(landing, DAY + timedelta(days=1), client=[again, closed], server=[])
    con = connect(get_settings())
    for day in (DAY + timedelta(days=1), DAY):  # the later day first: order must not matter
        ingest_day(con, day, settings)
        align_and_extract(con, day, settings)
    assert con.execute("select ds, outcome, final_text from staging.refinements").fetchall() == [
        (DAY + timedelta(days=1), "accepted_refined", "12")
    ]
    assert con.execute(
        "select count(*) from ops.quarantine where stage = 'extract'"
    ).fetchone() == (0,)


def test_missing_server_side_is_quarantined_after_the_lookback(settings, monkeypatch):
    monkeypatch.setattr(settings.extract, "align_lookback_days", 1)
    kit = Kit()
    d = kit.open("file:///a.py", "x\n")
    d.show("c", 2, "y")
    d.close(dt=12)
    kit.server.clear()
    con = _run(settings, kit, days=(DAY, DAY + timedelta(days=1)))
    assert con.execute("select ds, reason from ops.extract_deferrals").fetchall() == [
        (DAY, "missing_server_request")
    ]
    q = con.execute("select ds, reason from ops.quarantine where stage = 'extract'").fetchall()
    assert q == [(DAY + timedelta(days=1), "missing_server_request")]
    assert con.execute("select sum(unaccounted) from ops.extract_accounting").fetchone()[0] == 0


def test_accept_without_its_insertion_is_quarantined_not_guessed(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x\n")
    d.show("c", 2, "y")
    d.change((2, 2, "z"))  # not the accepted text
    kit.emit(
        "completion.accepted",
        d,
        completion_id="c",
        item_index=0,
        accepted_text="y",
        accept_kind="full",
    )
    d.close(dt=12)
    con = _run(settings, kit)
    assert con.execute("select reason from ops.quarantine where stage = 'extract'").fetchall() == [
        ("accept_insertion_not_found",)
    ]


def test_rerun_is_identical(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x\n")
    d.show("c", 2, "y")
    d.accept("c", 2, "y")
    d.close(dt=3)
    con = _run(settings, kit)
    before = _hash(con)
    ingest_day(con, DAY, settings)
    align_and_extract(con, DAY, settings)
    assert _hash(con) == before


TABLES = {
    "raw.client_events": "*",
    "raw.server_events": "*",
    "staging.stg_telemetry__editor_events": "*",
    "staging.int_completions_aligned_to_events": "*",
    "staging.refinements": "*",
    "ops.extract_deferrals": "*",
    "ops.extract_accounting": "*",
    "ops.quarantine": "* exclude (quarantined_at)",
}


def _hash(con) -> str:
    digest = hashlib.sha256()
    for table, cols in TABLES.items():
        rows = con.execute(f"select {cols} from {table} order by all").fetchall()
        digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def _fast(settings):
    return settings


def test_score_reads_truth_and_counts_every_completion(settings):
    import json

    from echo_ops.simulate.score import score_day, truth_path

    kit = Kit()
    d = kit.open("file:///a.py", "x\n")
    d.show("good", 2, "y")
    d.accept("good", 2, "y")
    d.show("wrong", 3, "z", dt=12)
    d.close(dt=12)
    con = _run(settings, kit)
    truth = [
        {"completion_id": "good", "intended_outcome": "accepted_kept", "final_text": "y"},
        {"completion_id": "wrong", "intended_outcome": "rejected_written", "final_text": "zz"},
        {"completion_id": "lost", "intended_outcome": "rejected_empty", "final_text": ""},
    ]
    path = truth_path(settings, DAY)
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(t) + "\n" for t in truth))
    f = score_day(con, DAY, settings)
    assert (f.truth, f.extracted, f.unaccounted) == (3, 2, 1)
    assert f.fidelity_exact == 0.5 and f.outcome_accuracy == 0.5
    assert f.mismatches == [{"completion_id": "wrong", "got": "", "want": "zz"}]


def test_a_late_accept_event_is_waited_for_not_guessed(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = \n")
    d.show("c", 4, "f(1)")
    d.accept("c", 4, "f(", kind="word")
    d.type(6, "2)")
    d.close(dt=12)
    late = next(e for e in kit.client if e["type"] == "completion.accepted")
    landing = Path(settings.storage.landing_uri)
    kit.write(landing, DAY, client=[e for e in kit.client if e is not late])
    kit.write(
        landing,
        DAY + timedelta(days=1),
        client=[late],
        server=[
            {
                "request_id": "r0",
                "ts": "2026-11-21T00:00:00Z",
                "model_version": "m",
                "prompt": {"prefix": "", "suffix": ""},
                "completion": "",
                "latency_ms": 1,
            }
        ],
    )
    con = connect(get_settings())
    for day in (DAY, DAY + timedelta(days=1)):
        ingest_day(con, day, settings)
        align_and_extract(con, day, settings)
    assert con.execute("select reason from ops.extract_deferrals").fetchall() == [
        ("accept_event_missing",)
    ]
    assert _rows(con)["c"][0:2] == ("partial_accepted", "f(")


def test_accept_then_delete_then_own_text_is_accepted_deleted(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = \n")
    d.show("c", 4, "wrong()")
    d.accept("c", 4, "wrong()")
    d.change((4, 11, ""))
    d.type(4, "right")
    d.close(dt=12)
    rows = _rows(_run(settings, kit))
    assert rows["c"][0:2] == ("accepted_deleted", "right")


def test_align_counts_both_missing_sides(settings):
    from echo_ops.align import align_day

    kit = Kit()
    d = kit.open("file:///a.py", "x\n")
    d.show("seen", 2, "y")
    d.show("no-server", 2, "z")
    d.close(dt=12)
    server = [s for s in kit.server if s["request_id"] != "req-no-server"]
    server.append({**server[0], "request_id": "gated-out"})
    kit.write(Path(settings.storage.landing_uri), DAY, server=server)
    con = connect(get_settings())
    ingest_day(con, DAY, settings)
    result = align_day(con, DAY, settings)
    assert (result.with_server, result.without_server, result.server_only) == (1, 1, 1)
    row = con.execute(
        "select prompt_prefix, server_matches_proposal from staging.int_completions_aligned_to_events "
        "where completion_id = 'seen'"
    ).fetchone()
    assert row == ("x\n", True)
