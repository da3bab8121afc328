"""Who proposes completions: the champion model (pluggable) or a fast oracle for volume.

A proposer answers `propose(prefix, suffix) -> Proposal(text, token_logprobs)`; the
simulator applies the confidence gate (`show_min_prob`) itself, as an editor would.
The fast proposer also sees what the person means to write (`propose_with_intent`) and
corrupts it under control, so 10M+ events can be made quickly with a realistic mix.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from echo_ops.errors import NoChampionError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Proposal:
    text: str
    token_logprobs: tuple[float, ...]
    quality: str = "model"  # fast proposer: exact | near | wrong (for the summary only)


@runtime_checkable
class Proposer(Protocol):
    model_version: str

    def propose(self, prefix: str, suffix: str) -> Proposal: ...


def confidence(p: Proposal) -> float:
    """The geometric-mean token probability the gate compares with `show_min_prob`."""
    if not p.text or not p.token_logprobs:
        return 0.0
    return math.exp(sum(p.token_logprobs) / len(p.token_logprobs))


class FastProposer:
    """The intended text, exact, slightly corrupted, or replaced by other code."""

    model_version = "fast-oracle-v1"

    def __init__(self, rng: random.Random, exact_share: float, near_share: float) -> None:
        self.rng, self.exact_share, self.near_share = rng, exact_share, near_share

    def propose(self, prefix: str, suffix: str) -> Proposal:
        raise TypeError("FastProposer needs the intended text: call propose_with_intent")

    def propose_with_intent(self, prefix: str, suffix: str, intended: str, other: str) -> Proposal:
        """`other` is plausible code from elsewhere (what a confused model would write)."""
        roll = self.rng.random()
        if roll < self.exact_share:
            return self._scored(intended, "exact", 0.4, 0.98)
        if roll < self.exact_share + self.near_share:
            return self._scored(self._corrupt(intended), "near", 0.12, 0.92)
        cut = intended.find("\n") + 1
        if 0 < cut < len(intended) and other and self.rng.random() < 0.15:
            other = intended[:cut] + other  # the first line right, then off on a tangent
        return self._scored(other or self._corrupt(intended), "wrong", 0.02, 0.5)

    def _scored(self, text: str, quality: str, lo: float, hi: float) -> Proposal:
        base = math.log(self.rng.uniform(lo, hi))
        n = max(1, len(text) // 4)
        jitter = self.rng.uniform(-0.05, 0.05)
        return Proposal(text, tuple(base + jitter * ((k % 3) - 1) for k in range(n)), quality)

    def _corrupt(self, text: str) -> str:
        rng = self.rng
        cut = text.find("\n") + 1
        if 0 < cut < len(text) and rng.random() < 0.7:
            return text[:cut] + self._corrupt(text[cut:])  # models drift after a right first line
        words = [m for m in _IDENT.finditer(text)]
        how = rng.random()
        if words and how < 0.5:
            m = rng.choice(words)
            new = rng.choice(
                ("value", "data", "result", "self", "x", "obj", m.group(0)[:-1] or "y")
            )
            return text[: m.start()] + new + text[m.end() :]
        if len(text) > 6 and how < 0.8:
            return text[: max(1, int(len(text) * rng.uniform(0.3, 0.8)))].rstrip("\r")
        cut = rng.randrange(len(text) + 1)
        return text[:cut] + rng.choice(("None", "0", "()", " + 1", "[]")) + text[cut:]


class _Adapted:
    """A model-backed proposer whose `propose` returns (text, logprobs), as a Proposer."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_version = getattr(inner, "model_version", None) or _dir_name(inner)

    def propose(self, prefix: str, suffix: str) -> Proposal:
        out = self.inner.propose(prefix, suffix)
        if isinstance(out, Proposal):
            return out
        text, logprobs = out
        return Proposal(text, tuple(float(x) for x in logprobs))


def _dir_name(inner) -> str:
    path = getattr(inner, "model_dir", None)
    return str(getattr(path, "name", path) or type(inner).__name__)


def load_proposer(
    kind: str,
    rng: random.Random,
    exact_share: float,
    near_share: float,
    model: tuple[str, str] | None = None,
    settings=None,
    served=None,
):
    """The proposer a run asked for: 'fast', or 'model': `model` = (model id, local HF dir)
    from `resolve_model`, served by the models stage's `echo_ops.generate` (or `served`:
    that model already loaded, e.g. a seat of simulate/batching.py)."""
    if kind == "fast":
        return FastProposer(rng, exact_share, near_share)
    if kind != "model":
        raise ValueError(f"unknown proposer {kind!r}; expected 'fast' or 'model'")
    return _Adapted(served if served is not None else load_model(model, settings))


def load_model(model: tuple[str, str] | None, settings):
    """The `echo_ops.generate` proposer serving `model` = (model id, local HF dir)."""
    if model is None:
        raise NoChampionError(_NO_CHAMPION)
    from echo_ops.generate import model_proposer

    model_id, model_dir = model
    return model_proposer(model_dir, model_id, settings)


def resolve_model(kind: str, model_id: str | None = None, settings=None) -> tuple[str, str] | None:
    """(model id, local dir) a 'model' run serves: `model_id` from the registry, else the
    champion; None for the fast proposer. Resolved once, before worker processes start."""
    if kind != "model":
        return None
    try:
        from echo_ops.generate import registry_model_dir
    except ImportError as exc:
        raise NoChampionError(_NO_CHAMPION) from exc
    try:
        found, model_dir = registry_model_dir(model_id, settings)
    except LookupError as exc:
        raise NoChampionError(f"{_NO_CHAMPION} ({exc})") from exc
    return found, str(model_dir)


_NO_CHAMPION = "no champion model in the registry yet: run echo_train first, or use --proposer fast"
