"""The simulated developers: how fast they type, how they slip, and how they judge a proposal.

The accept rule (docs/simulator.md), applied to the proposal P and what the person means
to write next, X (cut to as many lines as P spans):
1. P equals X, or X starts with P              -> accept whole and keep it;
2. P's first line (with its break) starts X     -> accept that line (word_accept_share);
3. similarity(P, X) >= refine_min_similarity    -> accept whole, then edit it into X
   (or, with delete_after_accept_share, accept and delete it at once);
4. P's first line starts X                      -> accept that line;
5. P's first word starts X                      -> accept that word (word_accept_share);
6. otherwise reject: ignore (no event), or dismiss, or type over it (after a small
   chance of a hasty accept that is deleted at once).
Each person draws their thresholds around the configured values.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from echo_ops.config import SimulateSettings

_WORD = re.compile(r"[ \t]*(?:\w+|[^\w\s])")  # a word accept never takes a line break
_BREAK = re.compile(r"\r\n|\n")


@dataclass(frozen=True)
class Person:
    user_id: str
    ms_per_char: int  # mean keystroke interval
    typo_rate: float
    undo_rate: float
    paste_revert_rate: float
    refine_min_similarity: float
    word_accept_share: float
    ignore_share: float
    typed_over_share: float
    delete_after_accept_share: float


def make_person(cfg: SimulateSettings, user_id: str, rng: random.Random) -> Person:
    """A person whose habits vary around the configured rates (re-run safe: seeded rng)."""

    def vary(x: float, spread: float = 0.3) -> float:
        return max(0.0, x * rng.uniform(1 - spread, 1 + spread))

    return Person(
        user_id=user_id,
        ms_per_char=rng.randint(110, 260),
        typo_rate=vary(cfg.typo_rate),
        undo_rate=vary(cfg.undo_rate),
        paste_revert_rate=vary(cfg.paste_revert_rate),
        refine_min_similarity=min(0.99, vary(cfg.refine_min_similarity, 0.08)),
        word_accept_share=min(1.0, vary(cfg.word_accept_share)),
        ignore_share=min(1.0, vary(cfg.ignore_share)),
        typed_over_share=min(1.0, vary(cfg.typed_over_share)),
        delete_after_accept_share=min(1.0, vary(cfg.delete_after_accept_share)),
    )


def cut_to_lines(text: str, breaks: int) -> str:
    """`text` up to (not including) its (breaks+1)-th line break."""
    for n, m in enumerate(_BREAK.finditer(text)):
        if n == breaks:
            return text[: m.start()]
    return text


def first_word(text: str) -> str:
    m = _WORD.match(text)
    return m.group(0) if m else ""


def decide(person: Person, proposal: str, intended: str, rng: random.Random) -> str:
    """One of: keep, refine, delete, line, word, ignore, dismissed, typed_over."""
    x = cut_to_lines(intended, len(_BREAK.findall(proposal)))
    if proposal == x or (x.startswith(proposal) and proposal.strip()):
        return "keep"
    line = _BREAK.search(proposal)
    line_ok = bool(line) and intended.startswith(proposal[: line.end()])
    if line_ok and rng.random() < person.word_accept_share:
        return "line"  # take the line that is right rather than fix the rest
    if _similar(proposal, x, person.refine_min_similarity):
        return "delete" if rng.random() < person.delete_after_accept_share else "refine"
    if line_ok:
        return "line"
    word = first_word(proposal)
    if word and intended.startswith(word) and rng.random() < person.word_accept_share:
        return "word"
    if rng.random() < person.delete_after_accept_share / 2:
        return "delete"  # a hasty accept of a wrong proposal, taken back at once
    if rng.random() < person.ignore_share:
        return "ignore"
    return "typed_over" if rng.random() < person.typed_over_share else "dismissed"


def _similar(a: str, b: str, threshold: float) -> bool:
    """difflib ratio(a, b) >= threshold; the cheap upper bounds rule most pairs out first."""
    if not b:
        return False
    m = SequenceMatcher(None, a, b, autojunk=False)
    return (
        m.real_quick_ratio() >= threshold
        and m.quick_ratio() >= threshold
        and m.ratio() >= threshold
    )
