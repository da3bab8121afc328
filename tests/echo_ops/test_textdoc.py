"""textdoc: LSP positions in three encodings and incremental changes, on known answers."""

from __future__ import annotations

import random

import pytest

from echo_ops.textdoc import (
    Edit,
    Position,
    PositionError,
    TextDocument,
    apply_change,
    apply_changes,
    index_to_offset,
    index_to_position,
    line_starts,
    make_change,
    offset_to_index,
    offset_to_position,
    position_encoding,
    position_to_index,
    position_to_offset,
    slice_offsets,
    unit_len,
)

# "é" is 1 UTF-16 unit / 2 UTF-8 bytes; "😀" (U+1F600) is 2 UTF-16 units / 4 bytes.
TEXT = "a😀b\r\nxé = 1\nlast"


def _chg(sl, sc, el, ec, text):
    return {
        "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        "text": text,
    }


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-16", 4 + 2 + 6 + 1 + 4), ("utf-8", 6 + 2 + 7 + 1 + 4), ("utf-32", 3 + 2 + 6 + 1 + 4)],
)
def test_unit_len_counts_code_units(encoding, expected):
    assert (
        unit_len(TEXT, encoding)
        == expected
        == len(
            TEXT.encode({"utf-16": "utf-16-le", "utf-8": "utf-8", "utf-32": "utf-32-le"}[encoding])
        )
        // {"utf-16": 2, "utf-8": 1, "utf-32": 4}[encoding]
    )


def test_unit_len_known_values():
    assert unit_len("😀", "utf-16") == 2
    assert unit_len("😀", "utf-8") == 4
    assert unit_len("😀", "utf-32") == 1
    assert unit_len("é", "utf-16") == 1
    assert unit_len("é", "utf-8") == 2
    assert unit_len("abc", "utf-8") == 3


@pytest.mark.parametrize(
    ("encoding", "character", "index"),
    [
        ("utf-16", 0, 0),
        ("utf-16", 1, 1),
        ("utf-16", 3, 2),  # after the emoji's surrogate pair
        ("utf-16", 4, 3),  # end of line 0 (before \r\n)
        ("utf-8", 5, 2),  # 1 + 4 bytes
        ("utf-32", 2, 2),
    ],
)
def test_position_to_index_on_line_with_astral_char(encoding, character, index):
    assert position_to_index(TEXT, 0, character, encoding) == index


def test_position_inside_a_character_raises():
    with pytest.raises(PositionError, match="inside the character"):
        position_to_index(TEXT, 0, 2, "utf-16")  # between the two surrogates
    with pytest.raises(PositionError, match="inside the character"):
        position_to_index(TEXT, 0, 3, "utf-8")  # inside the emoji's 4 bytes
    with pytest.raises(PositionError, match="inside the character"):
        position_to_index(TEXT, 1, 2, "utf-8")  # inside "é"


def test_lines_split_on_crlf_lf_and_lone_cr():
    text = "ab\r\ncd\ref\ngh"
    assert line_starts(text) == [0, 4, 7, 10]
    assert position_to_index(text, 1, 0) == 4
    assert position_to_index(text, 2, 1) == 8
    assert position_to_index(text, 3, 2) == 12
    assert index_to_position(text, 8) == Position(2, 1)
    assert index_to_position(text, 4) == Position(1, 0)


def test_character_past_line_end_clamps_to_line_end_not_into_break():
    # LSP: a character beyond the line length defaults back to the line length.
    assert position_to_index(TEXT, 0, 99) == 3
    assert position_to_index("ab\ncd", 0, 7) == 2
    assert position_to_index("ab\r\ncd", 0, 7) == 2


def test_line_past_the_end_and_negative_values_raise():
    with pytest.raises(PositionError, match="past the last line"):
        position_to_index("ab\ncd", 2, 0)
    with pytest.raises(PositionError, match="past the last line"):
        position_to_index("ab\r\ncd", 5, 0)
    with pytest.raises(PositionError, match="negative"):
        position_to_index("ab", -1, 0)
    with pytest.raises(PositionError, match="negative"):
        position_to_index("ab", 0, -1)


def test_index_to_position_refuses_middle_of_crlf_and_out_of_range():
    with pytest.raises(PositionError, match=r"splits a \\r\\n"):
        index_to_position("ab\r\ncd", 3)
    with pytest.raises(PositionError, match="outside"):
        index_to_position("ab", 3)


def test_offsets_round_trip_in_every_encoding():
    for encoding in ("utf-16", "utf-8", "utf-32"):
        for index in range(len(TEXT) + 1):
            if TEXT[index - 1 : index + 1] == "\r\n":
                continue
            pos = index_to_position(TEXT, index, encoding)
            assert position_to_index(TEXT, pos.line, pos.character, encoding) == index
            off = index_to_offset(TEXT, index, encoding)
            assert offset_to_index(TEXT, off, encoding) == index
            assert position_to_offset(TEXT, pos.line, pos.character, encoding) == off
            assert offset_to_position(TEXT, off, encoding) == pos


def test_offset_past_the_end_raises():
    with pytest.raises(PositionError, match="past the end"):
        offset_to_index("abc", 4)
    with pytest.raises(PositionError, match="past the end"):
        offset_to_index("é", 3, "utf-8")


def test_apply_change_inserts_with_utf16_positions_and_reports_offsets():
    new, edit = apply_change(TEXT, _chg(0, 3, 0, 3, "Ω"))
    assert new == "a😀Ωb\r\nxé = 1\nlast"
    assert edit == Edit(start=3, end=3, text="Ω", new_len=1, start_index=2, end_index=2)
    assert edit.delta == 1


def test_apply_change_across_lines_in_utf8():
    # Replace from after "a" on line 0 to after "xé" on line 1 (3 bytes in) with "Z".
    new, edit = apply_change(TEXT, _chg(0, 1, 1, 3, "Z"), "utf-8")
    assert new == "aZ = 1\nlast"
    assert (edit.start, edit.end, edit.new_len) == (1, 1 + 4 + 1 + 2 + 1 + 2, 1)
    assert edit.delta == 1 - 10


def test_changes_in_one_event_apply_in_order_each_to_previous_text():
    # A multi-cursor-like event: the second change's position counts the first insertion.
    text = "def f():\n    pass\n"
    changes = [_chg(1, 4, 1, 8, "return 1"), _chg(0, 0, 0, 0, "# hi\n"), _chg(2, 4, 2, 10, "yield")]
    new, edits = apply_changes(text, changes)
    assert new == "# hi\ndef f():\n    yield 1\n"
    assert [e.start for e in edits] == [13, 0, 18]
    assert [e.delta for e in edits] == [4, 5, -1]


def test_full_document_change_without_range():
    new, edit = apply_change("old\ntext", {"text": "new"})
    assert new == "new"
    assert (edit.start, edit.end, edit.new_len) == (0, 8, 3)


def test_malformed_changes_raise_position_error():
    with pytest.raises(PositionError, match="before its start"):
        apply_change("abc", _chg(0, 2, 0, 1, "x"))
    with pytest.raises(PositionError, match="malformed range"):
        apply_change("abc", {"range": {"start": {"line": 0}}, "text": "x"})
    with pytest.raises(PositionError, match="must be a string"):
        apply_change("abc", {"range": _chg(0, 0, 0, 0, "")["range"], "text": 5})


def test_text_document_keeps_text_when_an_event_fails():
    doc = TextDocument("héllo\r\nwörld", "utf-8", version=1)
    edits = doc.apply([_chg(1, 0, 1, 0, "big ")])
    assert doc.text == "héllo\r\nbig wörld" and doc.version == 2
    assert edits[0].start == 8  # "héllo" is 6 bytes, plus \r\n
    with pytest.raises(PositionError):
        doc.apply([_chg(0, 0, 0, 0, "ok"), _chg(9, 0, 9, 0, "bad")])
    assert doc.text == "héllo\r\nbig wörld" and doc.version == 2
    assert doc.slice(8, 12) == "big "
    assert doc.position_at(8) == Position(1, 0)
    assert doc.offset_at(1, 4) == 12
    assert len(doc) == 18  # 6 + 2 + 4 + 6 bytes


def test_slice_offsets_in_utf16():
    assert slice_offsets(TEXT, 1, 3) == "😀"
    with pytest.raises(PositionError):
        slice_offsets(TEXT, 2, 3)


def test_position_encoding_defaults_and_rejects_unknown():
    assert position_encoding(None) == "utf-16"
    assert position_encoding({"name": "vscode", "version": "1"}) == "utf-16"
    assert position_encoding({"position_encoding": "utf-8"}) == "utf-8"
    with pytest.raises(PositionError, match="unknown position_encoding"):
        position_encoding({"position_encoding": "latin-1"})


def test_make_change_then_apply_reproduces_random_edits():
    # Property check on a fixed seed: any edit expressed as an LSP change replays exactly.
    rng = random.Random(3)
    alphabet = ["a", "b", " ", "\n", "\r\n", "é", "😀", "\t", "中"]
    for encoding in ("utf-16", "utf-8", "utf-32"):
        text = "start\r\n"
        for _ in range(300):
            i = rng.randint(0, len(text))
            j = rng.randint(i, min(len(text), i + 4))
            if text[i - 1 : i + 1] == "\r\n" or text[j - 1 : j + 1] == "\r\n":
                continue
            new = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
            expected = text[:i] + new + text[j:]
            change = make_change(text, i, j, new, encoding)
            got, edit = apply_change(text, change, encoding)
            assert got == expected
            assert edit.start == unit_len(text[:i], encoding)
            assert edit.end - edit.start == unit_len(text[i:j], encoding)
            text = got
