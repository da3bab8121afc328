"""The region rule (v1) as the simulator's truth applies it, on hand-built scenarios."""

from __future__ import annotations

from echo_ops.simulate.editor import Session, SimDoc
from echo_ops.simulate.truth import ACCEPTED, OPEN, Region


def _accepted(start: int, end: int, proposal: str = "XYZ") -> Region:
    r = Region({}, start, proposal, shown_ms=0)
    r.accept(start, end, ts_ms=0)
    return r


def _apply(r: Region, text: str, a: int, b: int, t: str, ts: int = 1) -> str:
    r.apply(a, b, t, text, ts)
    return text[:a] + t + text[b:]


def test_accepted_region_does_not_grow_at_its_edges():
    text, r = "abXYZcd", _accepted(2, 5)
    text = _apply(r, text, 2, 2, "Q")  # at the start: stays outside, shifts
    assert (r.start, r.end) == (3, 6) and r.touched_ms == 0
    text = _apply(r, text, 6, 6, "R")  # at the end: stays outside
    assert (r.start, r.end) == (3, 6) and text[3:6] == "XYZ"
    text = _apply(r, text, 4, 4, "-", ts=7)  # inside: grows and touches
    assert text[r.start : r.end] == "X-YZ" and r.touched_ms == 7


def test_edits_before_shift_and_after_do_nothing():
    text, r = "0123XYZ789", _accepted(4, 7)
    text = _apply(r, text, 1, 4, "")  # a deletion ending at the start shifts
    assert (r.start, r.end) == (1, 4) and text[1:4] == "XYZ"
    text = _apply(r, text, 4, 6, "abc")  # a replacement starting at the end: after
    assert (r.start, r.end) == (1, 4) and r.touched_ms == 0


def test_overlapping_edits_replace_the_overlapped_part():
    text, r = "01234ABCDE", _accepted(5, 10)
    text = _apply(r, text, 3, 7, "zz", ts=5)  # starts before the region, ends inside
    assert (r.start, r.end) == (3, 8) and text[3:8] == "zzCDE" and r.touched_ms == 5
    text = _apply(r, text, 7, 10, "", ts=6)  # deletes past the end
    assert text[r.start : r.end] == "zzCD" and r.kind == ACCEPTED


def test_overtyping_a_character_with_itself_does_not_touch():
    text, r = "f(x)", _accepted(2, 4, "x)")
    _apply(r, text, 3, 4, ")", ts=9)
    assert (r.start, r.end) == (2, 4) and r.touched_ms == 0


def test_open_region_grows_at_its_end_within_the_proposal_line_extent():
    text = "x = \nnext"
    r = Region({}, 4, "compute()", shown_ms=0)  # single-line proposal
    text = _apply(r, text, 4, 4, "f")
    text = _apply(r, text, 5, 5, "oo")
    assert text[r.start : r.end] == "foo" and r.kind == OPEN
    text = _apply(r, text, 7, 7, "\n    bar")  # Enter: the break and beyond stay outside
    assert text[r.start : r.end] == "foo"
    text = _apply(r, text, 8, 8, "zz")  # typing on the next line is after the region
    assert text[r.start : r.end] == "foo"


def test_open_region_absorbs_up_to_the_proposal_line_count_crlf():
    text = "a\r\nb"
    r = Region({}, 1, "one\r\ntwo", shown_ms=0)  # one line break
    text = _apply(r, text, 1, 1, "p\r\nq\r\nr")
    assert text[r.start : r.end] == "p\r\nq"


def test_insertion_before_an_empty_open_region_position_grows_it_not_shifts():
    r = Region({}, 3, "abc", shown_ms=0)
    _apply(r, "012345", 3, 3, "x")
    assert (r.start, r.end) == (3, 4)


def test_accepted_then_deleted_reopens_and_grows_with_what_is_typed():
    text, r = "a = XYZ\n", _accepted(4, 7)
    text = _apply(r, text, 4, 7, "", ts=3)
    assert r.kind == OPEN and (r.start, r.end) == (4, 4)
    text = _apply(r, text, 4, 4, "42", ts=4)
    assert text[r.start : r.end] == "42" and r.touched_ms == 4


def _session() -> Session:
    return Session("u", "s1", {"name": "t", "version": "1"}, 0, 1_000_000, quiet_s=10, horizon_s=60)


def test_region_settles_after_quiet_period_before_later_touching_edit():
    s = _session()
    doc = SimDoc(s, "file:///t.py", "x = 1\n", "\n")
    r = Region({}, 4, "2 + 3", s.now)
    doc.track(r)
    doc.change([(4, 5, "2 + 3")])
    r.accept(4, 9, s.now)
    s.wait(2_000)
    doc.change([(8, 9, "4")])  # refine inside
    s.wait(10_000)  # exactly quiet_s after the last touching edit
    doc.change([(8, 9, "5")])
    assert r.final == "2 + 4" and r.settled_reason == "quiet"


def test_region_settles_on_save_close_and_horizon():
    s = _session()
    doc = SimDoc(s, "file:///t.py", "ab\n", "\n")
    saved, horizon = Region({}, 2, "c", s.now), Region({}, 0, "z", s.now)
    doc.track(saved)
    doc.change([(2, 2, "c")])  # grows the open region
    doc.save()
    assert saved.final == "c" and saved.settled_reason == "saved"
    doc.track(horizon)
    for _ in range(8):  # touched every 9 s: never quiet, but the horizon (60 s) passes
        s.wait(9_000)
        doc.change([(horizon.end, horizon.end, "z")])
    assert horizon.settled_reason == "horizon" and horizon.final == "z" * 6
    late = Region({}, 0, "q", s.now)
    doc.track(late)
    doc.close()
    assert late.settled_reason == "closed" and late.final == ""


def test_model_proposers_returning_tuples_are_adapted_and_gated():
    from pathlib import Path

    from echo_ops.simulate.proposers import Proposal, _Adapted, confidence

    class Tiny:
        model_dir = Path("/models/m-0042")

        def propose(self, prefix, suffix):
            return "x + 1", [-0.1, -0.3]

    p = _Adapted(Tiny())
    out = p.propose("a = ", "\n")
    assert p.model_version == "m-0042" and out == Proposal("x + 1", (-0.1, -0.3), "model")
    assert abs(confidence(out) - 0.8187) < 1e-3 and confidence(Proposal("", ())) == 0.0
