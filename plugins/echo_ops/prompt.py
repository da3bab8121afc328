"""The one fill-in-the-middle (FIM) prompt format, shared by the simulator's proposer,
training and evaluation.

Layout (prefix-suffix-middle, as StarCoder and the FIM paper use):
`<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>{target}<eos>`.
When the budget is short we keep the END of the prefix and the START of the suffix:
the code nearest the cursor is what predicts the middle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIM_PREFIX = "<fim_prefix>"
FIM_SUFFIX = "<fim_suffix>"
FIM_MIDDLE = "<fim_middle>"
EOS = "<eos>"
PAD = "<pad>"
# The tokenizer trainer reserves these ids first, in this order.
SPECIAL_TOKENS = [PAD, EOS, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE]
# Other spellings real code models use for the same markers (Qwen2.5-Coder, DeepSeek use "|").
_ALIASES = {
    FIM_PREFIX: ["<fim_prefix>", "<|fim_prefix|>", "<fim-prefix>", "▁<PRE>", "<PRE>"],
    FIM_SUFFIX: ["<fim_suffix>", "<|fim_suffix|>", "<fim-suffix>", "▁<SUF>", "<SUF>"],
    FIM_MIDDLE: ["<fim_middle>", "<|fim_middle|>", "<fim-middle>", "▁<MID>", "<MID>"],
}  # StarCoder, Qwen2.5-Coder / DeepSeek-Coder, SantaCoder, CodeLlama
IGNORE_INDEX = -100  # label value the loss skips


@dataclass(frozen=True)
class FimTokens:
    prefix: tuple[int, ...]  # one special token, or the marker spelled in ordinary tokens
    suffix: tuple[int, ...]
    middle: tuple[int, ...]
    eos_id: int


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX on prompt tokens unless the loss covers the prompt
    n_prompt: int  # tokens before the target starts


@dataclass(frozen=True)
class Aligned:
    """An editor cursor's prompt moved to the start of its line (see `align_to_lines`)."""

    head: str  # the prefix up to the cursor's line
    tail: str  # the suffix after the cursor's line
    typed: str  # the cursor's line before the cursor
    rest: str  # the cursor's line after the cursor, with its line break


def align_to_lines(prefix: str, suffix: str) -> Aligned:
    """Split an editor's (prefix, suffix) at the cursor's line, so that the model is asked
    for the whole line: `typed` + middle + `rest`. Base models learn middles of whole
    lines (`bootstrap.corpus_fim_examples`), and an editor's cursor sits anywhere in one:
    after auto-indent, a `(`, a `.` or a space. A cursor at the start of a line that
    already has code is left as it is: that is the whole-line shape already."""
    start = prefix.rfind("\n") + 1
    end = suffix.find("\n") + 1 or len(suffix)
    typed, rest = prefix[start:], suffix[:end]
    if not typed and rest.strip():
        return Aligned(prefix, suffix, "", "")
    return Aligned(prefix[:start], suffix[end:], typed, rest)


def line_example(prefix: str, suffix: str, target: str) -> tuple[str, str, str]:
    """An editor example (the prompt at the cursor, the text that belongs there) in the
    shape the model is served (`align_to_lines`): (prefix, suffix, middle)."""
    al = align_to_lines(prefix, suffix)
    return al.head, al.tail, al.typed + target + al.rest


def build_prompt_text(prefix: str, suffix: str) -> str:
    """The FIM prompt as text (no truncation): what a model that tokenizes markers sees."""
    return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


def fim_tokens(tokenizer: Any) -> FimTokens:
    """Ids of the FIM markers and end-of-sequence in this tokenizer, whatever their spelling.

    A model without FIM tokens (any plain causal LM) gets the markers as ordinary text, so it
    can still be served and fine-tuned untouched; it learns the format from the data.
    """
    vocab = tokenizer.get_vocab()
    markers = []
    for marker in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE):
        found = [vocab[a] for a in _ALIASES[marker] if a in vocab]
        markers.append(
            (found[0],) if found else tuple(tokenizer.encode(marker, add_special_tokens=False))
        )
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else vocab.get(EOS)
    if eos is None:
        raise ValueError("tokenizer has no end-of-sequence token: cannot end a completion")
    return FimTokens(*markers, eos_id=eos)


def split_budget(
    n_prefix: int, n_suffix: int, budget: int, prefix_share: float = 0.75
) -> tuple[int, int]:
    """How many prefix and suffix tokens fit `budget`; room one side leaves goes to the other."""
    budget = max(budget, 0)
    keep_prefix = min(n_prefix, int(budget * prefix_share))
    keep_suffix = min(n_suffix, budget - keep_prefix)
    keep_prefix = min(n_prefix, budget - keep_suffix)
    return keep_prefix, keep_suffix


def encode_fim(
    tokenizer: Any,
    prefix: str,
    suffix: str,
    target: str | None = None,
    max_tokens: int = 256,
    max_target_tokens: int | None = None,
    loss_on_prompt: bool = False,
) -> Encoded:
    """Token ids of one FIM example, truncated to `max_tokens`.

    With `target=None` this is a generation prompt (ends at <fim_middle>). The target
    is capped first (at half the budget unless told), then prefix and suffix share what
    is left: the prefix keeps its end, the suffix its start.
    """
    t = fim_tokens(tokenizer)
    enc = lambda s: tokenizer.encode(s, add_special_tokens=False) if s else []  # noqa: E731
    p_ids, s_ids = enc(prefix), enc(suffix)
    tgt_ids: list[int] = []
    if target is not None:
        cap = max_target_tokens if max_target_tokens is not None else max_tokens // 2
        tgt_ids = enc(target)[: max(cap - 1, 0)] + [t.eos_id]
    markers = len(t.prefix) + len(t.suffix) + len(t.middle)
    keep_p, keep_s = split_budget(len(p_ids), len(s_ids), max_tokens - markers - len(tgt_ids))
    prompt = [*t.prefix, *p_ids[len(p_ids) - keep_p :], *t.suffix, *s_ids[:keep_s], *t.middle]
    ids = prompt + tgt_ids
    if loss_on_prompt:
        labels = list(ids)
    else:
        labels = [IGNORE_INDEX] * len(prompt) + tgt_ids
    return Encoded(ids, labels, len(prompt))
