"""The serving loop's editor-like stops (echo_ops.generate), on literal texts and on the
tiny real model."""

from __future__ import annotations

import math

import pytest

from echo_ops.generate import (
    ModelProposer,
    _drop_line_rest,
    editor_cut,
    kept_tokens,
    split_typed,
)
from echo_ops.precision import uses_bf16


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
# the file the `memorised_base` model knows by heart, cut at a line
HEAD = "import os\n\n\ndef path_of(name):\n"
TAIL = "\n\ndef size_of(name):\n    return os.path.getsize(path_of(name))\n"
MEMORISED_MID_LINE = (HEAD + "    return os.", "\n" + TAIL)


def _kept_tokens(proposer, prefix, suffix):
    """What the greedy loop generated for this prompt, as `propose` runs it:
    (text after the typed part, log-probs)."""
    prompt, row = proposer._prepare(prefix, suffix)
    proposer._greedy([prompt], [row])
    return (row.done[len(row.typed) :] if row.ok else ""), row.logprobs


@pytest.mark.parametrize("model", ["tiny_base", "memorised_base"])
def test_mid_line_proposals_are_one_line_with_a_logprob_per_kept_token(model, request):
    proposer = ModelProposer(request.getfixturevalue(model), "cpu", max_new_tokens=24)
    prompt = MID_LINE if model == "tiny_base" else MEMORISED_MID_LINE
    text, logprobs = proposer.propose(*prompt)
    assert "\n" not in text and "\r" not in text
    generated, all_logprobs = _kept_tokens(proposer, *prompt)
    # every kept token put a character into the text, and only those tokens are scored
    assert generated.startswith(text)
    assert logprobs == all_logprobs[: len(logprobs)]
    assert bool(text) == bool(logprobs)
    if model == "memorised_base":  # a model that knows the line: it says the rest of it
        assert text and generated[len(text)] == "\n" and len(logprobs) < len(all_logprobs)


def test_line_start_proposals_stay_within_the_line_cap(tiny_base):
    proposer = ModelProposer(tiny_base, "cpu", max_new_tokens=40, max_lines=1)
    text, logprobs = proposer.propose(*LINE_START)
    assert text.strip("\n").count("\n") == 0
    assert len(logprobs) <= 40 and all(lp <= 0.0 for lp in logprobs)


def test_token_floor_keeps_only_the_confident_prefix(memorised_base):
    free = ModelProposer(memorised_base, "cpu", max_new_tokens=12, token_min_prob=0.0)
    text0, lp0 = free.propose(*MEMORISED_MID_LINE)
    assert len(lp0) >= 2, "the model knows this line"
    # the least likely token of the shown text (one past the editor's cut would cut nothing)
    k = min(range(len(lp0)), key=lp0.__getitem__)
    floor = math.exp(lp0[k]) * 1.0001  # just above it
    cut = ModelProposer(memorised_base, "cpu", max_new_tokens=12, token_min_prob=floor)
    text, logprobs = cut.propose(*MEMORISED_MID_LINE)
    assert text0.startswith(text) and len(text) < len(text0)
    assert logprobs == lp0[: len(logprobs)] and len(logprobs) <= k
    assert all(lp >= math.log(floor) for lp in logprobs)
    everything_cut = ModelProposer(memorised_base, "cpu", max_new_tokens=12, token_min_prob=1.0)
    assert everything_cut.propose(*MEMORISED_MID_LINE) == ("", [])


@pytest.mark.parametrize(
    ("text", "rest", "shown"),
    [
        ("x, y)", ")\n", "x, y"),  # the auto-inserted closer is already there
        ("x, y", ")\n", "x, y"),
        ("x)\n    y", ")\n", "x)\n    y"),  # a multi-line proposal is left alone
        ("x)", "\n", "x)"),  # nothing after the cursor
    ],
)
def test_a_proposal_stops_before_what_follows_the_cursor(text, rest, shown):
    assert _drop_line_rest(text, rest) == shown


def test_tokens_that_agree_with_typed_text(tiny_base):
    proposer = ModelProposer(tiny_base, "cpu")
    special = set(proposer.tokenizer.all_special_ids)
    pieces = [
        "" if i in special else proposer.tokenizer.decode([i])
        for i in range(len(proposer.tokenizer))
    ]
    agreeing = {int(i) for i in proposer._agreeing("    re")}
    assert agreeing, "byte-level BPE has a token for every start of a text"
    assert pieces.index(" ") in agreeing  # a start of the typed text
    for i, piece in enumerate(pieces):  # every token of the vocabulary, not only an index's
        expected = bool(piece) and (piece.startswith("    re") or "    re".startswith(piece))
        assert (i in agreeing) == expected, repr(piece)
    assert proposer.tokenizer.eos_token_id not in agreeing


def test_a_person_who_typed_the_start_of_the_models_line_gets_the_rest(memorised_base):
    """Token healing: the typed part of the line is forced through the tokens that agree
    with it, so a person who typed the start of what the model writes on an empty line
    (cut anywhere, even inside a token) is offered exactly the rest."""
    proposer = ModelProposer(memorised_base, "cpu", max_new_tokens=32, max_lines=1)
    text, _ = proposer.propose(HEAD + "    ", "\n" + TAIL)  # after auto-indent
    assert len(text) > 8 and not text.startswith(" "), text
    line = "    " + text
    for k in range(5, len(line)):
        text, logprobs = proposer.propose(HEAD + line[:k], "\n" + TAIL)
        assert text == line[k:], k
        # every token that adds text is scored, and a memorised line passes any gate
        assert logprobs and all(lp <= 1e-6 for lp in logprobs), k
        assert math.exp(sum(logprobs) / len(logprobs)) > 0.9, k


def test_the_proposal_stops_before_the_closer_the_editor_inserted(memorised_base):
    proposer = ModelProposer(memorised_base, "cpu", max_new_tokens=32, max_lines=1)
    text, _ = proposer.propose(HEAD + "    ", "\n" + TAIL)
    line = "    " + text
    opening = line.index("(") + 1
    assert line.endswith(")"), line
    text, _ = proposer.propose(HEAD + line[:opening], ")\n" + TAIL)
    assert text == line[opening:-1]


@pytest.mark.parametrize(
    ("typed", "settled", "heal"),
    [
        ("    ", "", "    "),  # auto-indent only: all of it may merge with the first word
        ("    return os.path.join(", "    return", " os.path.join("),
        ("    x = ", "    x =", " "),  # a trailing space belongs to the next word
        ("x", "", "x"),
        ("", "", ""),
    ],
)
def test_typed_text_is_settled_up_to_its_last_word(typed, settled, heal):
    assert split_typed(typed) == (settled, heal)


def test_settled_tokens_are_the_ones_the_whole_line_has(tiny_base):
    """What goes into the prompt as it is must tokenize as inside the full line."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    line = "        return os.path.join(root, name)  # where it lives\n"
    for k in range(len(line)):
        settled, _ = split_typed(line[:k])
        ids = tok.encode(settled, add_special_tokens=False)
        assert tok.encode(line, add_special_tokens=False)[: len(ids)] == ids, repr(settled)


@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("model", ["tiny_base", "memorised_base"])
def test_a_batch_gives_each_request_its_lone_answer(model, bf16, request):
    """Prompts of different lengths (left padding), typed text to heal, a row that stops at
    once and rows that run long: each row's answer is the one it gets alone (also under
    bf16 autocast, where this CPU computes it natively: echo_ops.precision)."""
    proposer = ModelProposer(request.getfixturevalue(model), "cpu", max_new_tokens=16, bf16=bf16)
    requests = [
        MID_LINE,
        LINE_START,
        MEMORISED_MID_LINE,
        (HEAD + "    ", "\n" + TAIL),
        (HEAD + "    return os.path.jo", "\n" + TAIL),
        ("x", ""),  # a short prompt: the most padding
        (HEAD * 40 + "    ", "\n" + TAIL * 10),  # a long one, cut to the prompt budget
        (HEAD + "    \u00e9\u00e8", "\n"),  # typed text the model may not follow
    ]
    # bf16 products round to 8 bits of mantissa: other batch shapes move a log-prob by
    # ~1e-3 there (measured 1.3e-3 at most), by float noise in fp32
    tol = 5e-3 if uses_bf16("cpu", bf16, cpu=bf16) else 1e-4
    lone = [proposer.propose(*r) for r in requests]
    batched = proposer.propose_many(requests)
    assert [t for t, _ in batched] == [t for t, _ in lone]
    for (_, lp_batch), (_, lp_lone) in zip(batched, lone, strict=True):
        assert lp_batch == pytest.approx(lp_lone, abs=tol)
    assert proposer.propose_many(requests[:1]) == lone[:1]  # a batch of one is `propose`
    # and before the editor's cut: every token each row decoded, lone and in the batch
    alone = [_kept_tokens(proposer, *r) for r in requests]
    prepared = [proposer._prepare(*r) for r in requests]
    assert len({len(p) for p, _ in prepared}) > 2, "prompts of several lengths: padding"
    assert len({len(lp) for _, lp in alone}) > 1, "rows that stop at different steps"
    proposer._greedy([p for p, _ in prepared], [row for _, row in prepared])
    for (_, row), (text, logprobs) in zip(prepared, alone, strict=True):
        assert (row.done[len(row.typed) :] if row.ok else "") == text
        assert row.logprobs == pytest.approx(logprobs, abs=tol)
