"""The one FIM prompt format: layout, truncation to a token budget, label masking."""

from __future__ import annotations

import pytest

from echo_ops.prompt import (
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    IGNORE_INDEX,
    FimTokens,
    align_to_lines,
    build_prompt_text,
    encode_fim,
    fim_tokens,
    line_example,
    split_budget,
)


def test_split_budget_gives_unused_room_to_the_other_side():
    assert split_budget(100, 100, 40) == (30, 10)
    assert split_budget(5, 100, 40) == (5, 35)  # short prefix: the suffix takes the rest
    assert split_budget(100, 2, 40) == (38, 2)
    assert split_budget(3, 4, 40) == (3, 4)
    assert split_budget(10, 10, -5) == (0, 0)


def test_prompt_text_layout():
    assert build_prompt_text("a = ", "\n") == f"{FIM_PREFIX}a = {FIM_SUFFIX}\n{FIM_MIDDLE}"


def test_encode_keeps_prefix_end_and_suffix_start(tiny_base):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    t = fim_tokens(tok)
    prefix = "".join(f"line_{i} = {i}\n" for i in range(200)) + "result = "
    suffix = "\nprint(result)\n" + "".join(f"tail_{i} = {i}\n" for i in range(200))
    enc = encode_fim(tok, prefix, suffix, "compute()", max_tokens=64)
    assert len(enc.input_ids) <= 64
    ids = enc.input_ids
    assert t.prefix == (2,) and ids[0] == 2 and ids[-1] == t.eos_id  # real special tokens
    p_end, m = ids.index(t.suffix[0]), ids.index(t.middle[0])
    assert tok.decode(ids[1:p_end]).endswith("result = ")  # the cursor's side of the prefix
    assert "line_0 =" not in tok.decode(ids[1:p_end])  # the far end was cut
    assert tok.decode(ids[p_end + 1 : m]).startswith("\nprint(result)")
    assert tok.decode(ids[m + 1 : -1]) == "compute()"
    # only the target and <eos> are trained on
    assert enc.labels[: enc.n_prompt] == [IGNORE_INDEX] * enc.n_prompt
    assert enc.labels[enc.n_prompt :] == ids[enc.n_prompt :]


def test_generation_prompt_ends_at_middle(tiny_base):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    enc = encode_fim(tok, "x = ", "", None, max_tokens=16)
    assert enc.input_ids[-1] == fim_tokens(tok).middle[0]
    assert enc.n_prompt == len(enc.input_ids)


class _CharTokenizer:
    """A plain causal-LM tokenizer with no FIM tokens: one id per character."""

    eos_token_id = 0

    def get_vocab(self):
        return {chr(c): c for c in range(1, 128)}

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]


def test_a_model_without_fim_tokens_gets_the_markers_as_text():
    tok = _CharTokenizer()
    t = fim_tokens(tok)
    assert t.prefix == tuple(map(ord, FIM_PREFIX)) and t.eos_id == 0
    enc = encode_fim(tok, "x" * 100 + "abc", "def" + "y" * 100, "zz", max_tokens=60)
    text = "".join(map(chr, enc.input_ids[:-1]))
    assert len(enc.input_ids) == 60
    assert text.startswith(FIM_PREFIX) and text.endswith(f"{FIM_MIDDLE}zz")
    assert f"abc{FIM_SUFFIX}def" in text


def test_tokenizer_without_eos_is_refused():
    class NoEos(_CharTokenizer):
        eos_token_id = None

    with pytest.raises(ValueError, match="no end-of-sequence"):
        fim_tokens(NoEos())


def test_alias_spelling_is_recognised():
    class QwenStyle:
        eos_token_id = 9

        def get_vocab(self):
            return {"<|fim_prefix|>": 5, "<|fim_suffix|>": 6, "<|fim_middle|>": 7}

    assert fim_tokens(QwenStyle()) == FimTokens((5,), (6,), (7,), 9)


@pytest.mark.parametrize(
    ("prefix", "suffix", "head", "tail", "typed", "rest"),
    [
        # after Enter + auto-indent: the indentation is typed, the empty rest of the line moves
        ("def f():\n    ", "\nx = 1\n", "def f():\n", "x = 1\n", "    ", "\n"),
        # mid-line, an auto-inserted closer after the cursor
        ("a = 1\nb = g(", ")\nc\n", "a = 1\n", "c\n", "b = g(", ")\n"),
        # CRLF: the line break is the \r\n
        ("a\r\n  b.", "\r\nc", "a\r\n", "c", "  b.", "\r\n"),
        # the last line of the file: no line break after the cursor
        ("a\nb ", "", "a\n", "", "b ", ""),
        # column 0 before existing code: already the whole-line shape
        ("a\n", "b\nc\n", "a\n", "b\nc\n", "", ""),
        # column 0 of an empty line
        ("a\n", "\nc\n", "a\n", "c\n", "", "\n"),
    ],
)
def test_align_to_lines_asks_for_the_cursors_whole_line(prefix, suffix, head, tail, typed, rest):
    al = align_to_lines(prefix, suffix)
    assert (al.head, al.tail, al.typed, al.rest) == (head, tail, typed, rest)
    # nothing is lost: the document is the same text
    assert al.head + al.typed + al.rest + al.tail == prefix + suffix


def test_line_example_puts_typed_text_and_line_rest_around_the_target():
    assert line_example("x = 1\nif a(", "):\n    pass\n", "b, c") == (
        "x = 1\n",
        "    pass\n",
        "if a(b, c):\n",
    )
