"""The region rule's engine, clause by clause, and against an offset-based reference."""

from __future__ import annotations

import random

import pytest

from echo_ops.extract.regions import ACCEPTED, OPEN, Region, find_accept, line_breaks
from echo_ops.textdoc import index_to_position, position_to_index


def _region(doc: str, start: int, end: int, kind: str, proposal: str = "x", enc="utf-16") -> Region:
    pos = index_to_position(doc, start, enc)
    return Region(tuple(pos), doc[start:end], kind, enc, line_breaks(proposal))


def _edit(region: Region, doc: str, i: int, j: int, t: str) -> tuple[str, bool]:
    s = tuple(index_to_position(doc, i, region.encoding))
    e = tuple(index_to_position(doc, j, region.encoding))
    return doc[:i] + t + doc[j:], region.apply(s, e, t)


def _text_at(region: Region, doc: str) -> str:
    i = position_to_index(doc, *region.start, region.encoding)
    return doc[i : i + len(region.text)]


DOC = "def f():\n    return 1\n"  # region: "return 1" at [13, 21)


def test_accepted_edges_stay_outside():
    r = _region(DOC, 13, 21, ACCEPTED)
    doc, touched = _edit(r, DOC, 13, 13, "  ")  # at start: shifts
    assert not touched and r.text == "return 1" and r.start == (1, 6)
    doc, touched = _edit(r, doc, 23, 23, "0")  # at end: nothing
    assert not touched and r.text == "return 1" and _text_at(r, doc) == "return 1"


def test_open_region_grows_at_its_end_within_the_proposal_line_extent():
    r = _region(DOC, 13, 13, OPEN, proposal="x = 1")
    doc, touched = _edit(r, DOC, 13, 13, "y")
    assert touched and r.text == "y"
    doc, touched = _edit(r, doc, 14, 14, " = 2\nnext")  # single-line proposal: stops at the break
    assert r.text == "y = 2" and _text_at(r, doc) == "y = 2"
    r2 = _region(DOC, 13, 13, OPEN, proposal="a\nb\n")
    _edit(r2, DOC, 13, 13, "1\n2\n3\n4")
    assert r2.text == "1\n2\n3"


def test_open_region_insertion_at_start_when_not_empty_is_inside():
    r = _region(DOC, 13, 21, OPEN)
    _, touched = _edit(r, DOC, 13, 13, "z")
    assert touched and r.text == "zreturn 1"


def test_overlap_replaces_the_overlapped_part():
    r = _region(DOC, 13, 21, ACCEPTED)
    doc, touched = _edit(r, DOC, 9, 16, "")  # deletes indent and "ret"
    assert touched and r.text == "urn 1" and r.start == (1, 0)
    doc, touched = _edit(r, doc, 13, 15, "42")  # replaces the "1" and the line break after it
    assert r.text == "urn 42" and _text_at(r, doc) == "urn 42" and doc.endswith("42")


def test_overtype_with_same_text_does_not_touch():
    r = _region(DOC, 13, 21, ACCEPTED)
    _, touched = _edit(r, DOC, 20, 21, "1")
    assert not touched and r.text == "return 1"


def test_undo_deleting_an_accepted_region_reopens_it():
    r = _region(DOC, 13, 21, ACCEPTED)
    doc, touched = _edit(r, DOC, 9, 21, "    ")  # one undo replaces the line's content
    assert touched and r.text == "    " and r.kind == ACCEPTED
    doc, _ = _edit(r, doc, 9, 13, "")
    assert r.text == "" and r.kind == OPEN
    _edit(r, doc, 9, 9, "pass")  # the person writes there: the open region grows
    assert r.text == "pass"


def test_utf16_surrogate_pairs_inside_and_before_the_region():
    doc = "s = '😀'  # ok\n"
    r = _region(doc, 5, 13, ACCEPTED)  # "😀'  # ok"
    assert r.end == (0, 5 + 9)  # the emoji counts two UTF-16 code units
    doc2, touched = _edit(r, doc, 6, 7, '"')
    assert touched and r.text == '😀"  # ok'
    doc3, _ = _edit(r, doc2, 0, 0, "é😀")  # before it on the same line: shifts by 3 units
    assert r.start == (0, 8) and _text_at(r, doc3) == r.text


def test_crlf_lines_before_and_inside():
    doc = "a\r\nb = 1\r\nc\r\n"
    r = _region(doc, 3, 11, ACCEPTED, proposal="b = 1\r\nc")  # "b = 1\r\nc"
    assert r.end == (2, 1)
    doc, _ = _edit(r, doc, 0, 0, "x\r\n")
    assert r.start == (2, 0)
    doc, touched = _edit(r, doc, 13, 14, "d")
    assert touched and r.text == "b = 1\r\nd" and _text_at(r, doc) == r.text


def test_find_accept_by_position_and_content_not_index():
    r = _region(DOC, 13, 13, OPEN)
    changes = [((0, 0), (0, 0), "return 1"), ((1, 4), (1, 4), "return 1")]
    assert find_accept(r, changes, "return 1") == 1


# --- against an offset-based reference of the same rule --------------------------------


def _reference(s, e, kind, maxb, a, b, t, old):
    """The rule in plain str offsets (no surrogates in this generator): new (s, e, kind)."""
    region_open, ins = kind == OPEN, a == b
    if ins and region_open and a == e:
        room = maxb - line_breaks(old[s:e])
        cut = len(t)
        for n, pos in enumerate(k for k, ch in enumerate(t) if ch == "\n"):
            if n >= room:
                cut = pos
                break
        return s, e + cut, kind
    if b < s or (b == s and not (ins and region_open)):
        return s + len(t) - (b - a), e + len(t) - (b - a), kind
    if a > e or (a == e and not (ins and region_open)):
        return s, e, kind
    head, tail = (old[s:a] if a > s else ""), (old[b:e] if b < e else "")
    ns = min(s, a)
    ne = ns + len(head) + len(t) + len(tail)
    return ns, ne, (OPEN if ne == ns else kind)


@pytest.mark.parametrize("seed", range(6))
def test_engine_matches_offset_reference_on_random_edits(seed):
    rnd = random.Random(seed)
    alphabet = "ab \n(é"
    doc = "".join(rnd.choice(alphabet) for _ in range(60))
    s = rnd.randrange(len(doc))
    e = min(len(doc), s + rnd.randrange(0, 8))
    kind = rnd.choice([OPEN, ACCEPTED]) if e > s else OPEN
    proposal = "p\nq" if seed % 2 else "p"
    r = _region(doc, s, e, kind, proposal)
    for _ in range(80):
        a = rnd.randrange(len(doc) + 1)
        b = min(len(doc), a + rnd.choice([0, 0, 1, 3]))
        t = "".join(rnd.choice(alphabet) for _ in range(rnd.choice([0, 1, 1, 4])))
        s, e, kind = _reference(s, e, kind, line_breaks(proposal), a, b, t, doc)
        doc, _ = _edit(r, doc, a, b, t)
        assert r.text == doc[s:e] and r.kind == kind
        assert position_to_index(doc, *r.start) == s
