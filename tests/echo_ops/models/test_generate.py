"""The serving loop's editor-like stops (echo_ops.generate), on literal texts and on the
tiny real model."""

from __future__ import annotations

import math

import pytest

from echo_ops.generate import ModelProposer, editor_cut, kept_tokens


@pytest.mark.parametrize(
    ("text", "mid_line", "indent", "kept"),
    [
        ("x + 1)\n    return y", True, 0, "x + 1)"),  # mid-line: the rest of the line only
        ("x + 1)\r\n    y", True, 0, "x + 1)"),  # CRLF: the \r is not shown
        ("\nfoo", True, 0, ""),  # a mid-line proposal that starts a new line is nothing
        ("a = 1\nb = 2\n\nc = 3", False, 0, "a = 1\nb = 2"),  # a blank line ends the block
        ("a = 1\n    \nb", False, 0, "a = 1"),  # so does a line of spaces
        ("return x\ndef g():", False, 4, "return x"),  # a dedent below the cursor's column
        ("if a:\n        b()\n    c()\nd()", False, 4, "if a:\n        b()\n    c()"),
        ("a\nb\nc\nd\ne\nf", False, 0, "a\nb\nc\nd"),  # at most max_lines code lines
        ("\n    x = 1\n", False, 4, "\n    x = 1"),  # a leading break stays; trailing one not
        ("a = f(", False, 0, "a = f("),  # an unfinished line is kept as it is
    ],
)
def test_editor_cut_stops_where_editors_do(text, mid_line, indent, kept):
    assert text[: editor_cut(text, mid_line, indent, max_lines=4)] == kept


@pytest.mark.parametrize(
    ("cut", "kept"), [(0, 0), (3, 1), (5, 2), (7, 2), (8, 3), (12, 4), (99, 4)]
)
def test_a_logprob_for_every_token_that_reaches_the_text(cut, kept):
    ends = [3, 7, 8, 12]  # decoded length after each of 4 tokens: "abc" "defg" "h" "ijkl"
    assert kept_tokens(ends, cut) == kept


MID_LINE = ("import os\n\ndef path_of(name):\n    return os.path.join(", ")\n")
LINE_START = ("import os\n\ndef path_of(name):\n    ", "\n")


def _kept_tokens(proposer, prefix, suffix):
    """What the greedy loop generated for this prompt (ids, log-probs)."""
    from echo_ops.prompt import encode_fim

    enc = encode_fim(proposer.tokenizer, prefix, suffix, None, proposer.max_prompt_tokens)
    line = prefix[prefix.rfind("\n") + 1 :]
    ids, logprobs, _ = proposer._greedy(enc.input_ids, bool(line.strip()), 0)
    return ids, logprobs


def test_mid_line_proposals_are_one_line_with_a_logprob_per_kept_token(tiny_base):
    proposer = ModelProposer(tiny_base, "cpu", max_new_tokens=24)
    text, logprobs = proposer.propose(*MID_LINE)
    assert "\n" not in text and "\r" not in text
    ids, all_logprobs = _kept_tokens(proposer, *MID_LINE)
    # every kept token put a character into the text, and only those tokens are scored
    n = len(logprobs)
    assert logprobs == all_logprobs[:n]
    assert proposer.tokenizer.decode(ids[:n], skip_special_tokens=True).startswith(text)
    if n:
        assert len(proposer.tokenizer.decode(ids[: n - 1], skip_special_tokens=True)) < len(text)


def test_line_start_proposals_stay_within_the_line_cap(tiny_base):
    proposer = ModelProposer(tiny_base, "cpu", max_new_tokens=40, max_lines=1)
    text, logprobs = proposer.propose(*LINE_START)
    assert text.strip("\n").count("\n") == 0
    assert len(logprobs) <= 40 and all(lp <= 0.0 for lp in logprobs)


def test_token_floor_keeps_only_the_confident_prefix(tiny_base):
    free = ModelProposer(tiny_base, "cpu", max_new_tokens=12, token_min_prob=0.0)
    _, all_logprobs = _kept_tokens(free, *MID_LINE)
    assert len(all_logprobs) >= 2, "the tiny model should say something here"
    k = min(range(len(all_logprobs)), key=all_logprobs.__getitem__)
    floor = math.exp(all_logprobs[k]) * 1.0001  # just above the least likely token
    text0, lp0 = free.propose(*MID_LINE)
    cut = ModelProposer(tiny_base, "cpu", max_new_tokens=12, token_min_prob=floor)
    text, logprobs = cut.propose(*MID_LINE)
    assert text0.startswith(text)
    assert logprobs == lp0[: len(logprobs)] and len(logprobs) <= k
    assert all(lp >= math.log(floor) for lp in logprobs)
    everything_cut = ModelProposer(tiny_base, "cpu", max_new_tokens=12, token_min_prob=1.0)
    assert everything_cut.propose(*MID_LINE) == ("", [])
