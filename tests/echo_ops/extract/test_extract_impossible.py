"""Impossible input to extraction is quarantined with a reason that says what was
impossible, never extracted as a confident outcome nor left waiting for data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from eventkit import Kit, align_and_extract

from echo_ops.ingest import ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 20)


def _extract(settings, kit: Kit):
    kit.write(Path(settings.storage.landing_uri), DAY)
    con = connect(settings)
    ingest_day(con, DAY, settings)
    align_and_extract(con, DAY, settings)
    return con


def _quarantined(con) -> list[str]:
    rows = con.execute("select reason from ops.quarantine where stage = 'extract'").fetchall()
    return [r.split(":", 1)[0] for (r,) in rows]


def test_an_inverted_range_is_quarantined_as_impossible(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\ny = 2\n")
    d.show("c", 6, "z = 3")
    d.version += 1
    inverted = {"start": {"line": 1, "character": 5}, "end": {"line": 1, "character": 0}}
    kit.emit("document.changed", d, changes=[{"range": inverted, "text": "q"}])
    d.close(dt=12)
    con = _extract(settings, kit)
    assert _quarantined(con) == ["impossible_range"]  # was: extracted as rejected_empty
    assert con.execute("select count(*) from staging.refinements").fetchone() == (0,)
    assert con.execute("select sum(unaccounted) from ops.extract_accounting").fetchone() == (0,)


def test_a_version_going_backwards_is_quarantined_as_such(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    d.type(6, "ab")  # versions 2, 3
    d.show("c", 8, "cd")  # shown on version 3
    d.version = 1  # the editor restarted its counter
    d.change((8, 8, "zz"))  # version 2, after the proposal by the clock
    d.close(dt=12)
    con = _extract(settings, kit)
    assert _quarantined(con) == ["doc_version_backwards"]  # was: horizon_not_covered
    assert con.execute("select sum(unaccounted) from ops.extract_accounting").fetchone() == (0,)
