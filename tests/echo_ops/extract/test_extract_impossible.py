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


def _raw_change(kit: Kit, d, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    """A change as a (broken) editor sent it: positions not derived from the text."""
    rng = {"start": {"line": start[0], "character": start[1]},
           "end": {"line": end[0], "character": end[1]}}  # fmt: skip
    d.version += 1
    kit.emit("document.changed", d, changes=[{"range": rng, "text": text}])


def test_a_change_past_the_documents_last_line_is_quarantined(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\ny = 2\n")  # lines 0-2 (2 is empty)
    d.show("c", 6, "z = 3")
    _raw_change(kit, d, (7, 0), (7, 0), "q")  # no line 7
    d.close(dt=12)
    con = _extract(settings, kit)
    assert _quarantined(con) == ["position_past_end"]  # was: extracted as rejected_empty
    (reason,) = con.execute("select reason from ops.quarantine where stage = 'extract'").fetchone()
    assert "line 7" in reason and "last line 2" in reason
    assert con.execute("select count(*) from staging.refinements").fetchone() == (0,)
    assert con.execute("select sum(unaccounted) from ops.extract_accounting").fetchone() == (0,)


def test_a_proposal_shown_past_the_last_line_is_quarantined(settings):
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    d.show("c", 6, "y = 2")
    shown = kit.client[-1]
    shown["position"] = {"line": 9, "character": 0}
    shown["items"][0]["range"] = {"start": shown["position"], "end": shown["position"]}
    d.close(dt=12)
    con = _extract(settings, kit)
    assert _quarantined(con) == ["position_past_end"]


def test_the_line_count_follows_edits_from_the_last_full_text(settings):
    """Lines that edits added (LF, CRLF and a lone CR each one) are real positions; a
    snapshot resets the count; the last line is a position, the one after it is not."""
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")  # 2 lines
    d.change((6, 6, "a\r\nb\rc\n"))  # 5 lines
    d.show("c", len(d.text), "z = 3")
    _raw_change(kit, d, (4, 0), (4, 0), "w")  # the last line: fine
    d.text = d.text + "w"
    d.reject("c")
    d.close(dt=12)
    d2 = kit.open("file:///b.py", "1\n2\n")
    kit.emit("document.snapshot", d2, text="1\n")  # now 2 lines
    d2.text = "1\n"
    d2.show("c2", 2, "3")
    _raw_change(kit, d2, (2, 0), (2, 0), "9")  # past it
    d2.close(dt=12)
    con = _extract(settings, kit)
    assert _quarantined(con) == ["position_past_end"]
    got = con.execute("select completion_id, outcome from staging.refinements").fetchall()
    assert got == [("c", "rejected_written")]
