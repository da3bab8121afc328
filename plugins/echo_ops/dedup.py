"""Dedup and leakage control for training examples: duplicates, grouped splits, decontamination.

Rows are plain dicts with at least `prefix`, `suffix`, `target` (and `doc_uri` for
splitting), as in `training.examples`. Every function returns new rows and never
mutates its input; all are deterministic (no Python `hash()`, which is salted per process).

Near duplicates: MinHash over token 5-gram shingles of an example's context window
(prefix tail, target, suffix head), banded LSH to find candidates in near-linear time,
then the exact shingle Jaccard decides. Scales to tens of thousands of rows on a laptop.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PRIME = np.uint64((1 << 61) - 1)
_NUM_PERM = 64
_BANDS = 16  # 16 bands x 4 rows: pairs above ~0.5 Jaccard become candidates
_SHINGLE = 5
_PREFIX_TAIL = 400  # chars of prefix that define "the same example"; older context varies freely
_SUFFIX_HEAD = 200


def _digest64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _window(row: dict) -> str:
    prefix, suffix = row.get("prefix") or "", row.get("suffix") or ""
    return f"{prefix[-_PREFIX_TAIL:]}\x00{row.get('target') or ''}\x00{suffix[:_SUFFIX_HEAD]}"


def exact_key(row: dict) -> str:
    """Whitespace-insensitive identity of an example (reformatting does not make it new)."""
    norm = " ".join(_window(row).split())
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()


def _shingles(text: str, k: int = _SHINGLE) -> set[int]:
    tokens = _TOKEN.findall(text)
    if len(tokens) < k:
        return {_digest64(" ".join(tokens))} if tokens else set()
    return {_digest64(" ".join(tokens[i : i + k])) for i in range(len(tokens) - k + 1)}


def _perm_params(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, (1 << 61) - 1, size=_NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, size=_NUM_PERM, dtype=np.uint64)
    return a, b


def _minhash(shingles: set[int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not shingles:
        return np.full(_NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = np.fromiter(shingles, dtype=np.uint64, count=len(shingles)) % _PRIME
    # uint64 arithmetic wraps; that is still a fine universal-ish hash family for MinHash.
    return ((x[:, None] * a[None, :] + b[None, :]) % _PRIME).min(axis=0)


def _jaccard(x: set[int], y: set[int]) -> float:
    if not x and not y:
        return 1.0
    return len(x & y) / len(x | y)


class _NearIndex:
    """Banded-LSH index of shingle sets; `match` returns an indexed id above the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.a, self.b = _perm_params()
        self.buckets: list[dict[bytes, list[int]]] = [defaultdict(list) for _ in range(_BANDS)]
        self.sets: list[set[int]] = []

    def _bands(self, sig: np.ndarray) -> list[bytes]:
        rows = _NUM_PERM // _BANDS
        return [sig[i * rows : (i + 1) * rows].tobytes() for i in range(_BANDS)]

    def match(self, shingles: set[int]) -> int | None:
        sig = _minhash(shingles, self.a, self.b)
        seen: set[int] = set()
        for band, key in zip(self.buckets, self._bands(sig), strict=True):
            for idx in band.get(key, ()):
                if idx not in seen:
                    seen.add(idx)
                    if _jaccard(shingles, self.sets[idx]) >= self.threshold:
                        return idx
        return None

    def add(self, shingles: set[int]) -> int:
        idx = len(self.sets)
        self.sets.append(shingles)
        for band, key in zip(
            self.buckets, self._bands(_minhash(shingles, self.a, self.b)), strict=True
        ):
            band[key].append(idx)
        return idx


def dedup_examples(
    rows: Sequence[dict], near_threshold: float = 0.85
) -> tuple[list[dict], dict[str, int]]:
    """Drop exact and near-duplicate examples, keeping the first of each group in input order.

    Returns (kept rows, counts {rows_in, exact_dupes, near_dupes, rows_out}).
    """
    kept: list[dict] = []
    seen_exact: set[str] = set()
    index = _NearIndex(near_threshold)
    exact = near = 0
    for row in rows:
        key = exact_key(row)
        if key in seen_exact:
            exact += 1
            continue
        shingles = _shingles(_window(row))
        if index.match(shingles) is not None:
            near += 1
            continue
        seen_exact.add(key)
        index.add(shingles)
        kept.append(dict(row))
    return kept, {
        "rows_in": len(rows),
        "exact_dupes": exact,
        "near_dupes": near,
        "rows_out": len(kept),
    }


def split_group(row: dict) -> str:
    """The unit that never straddles train/eval: the file (doc_uri already names its repository)."""
    return str(row.get("doc_uri") or row.get("repo") or "")


def assign_split(rows: Iterable[dict], eval_share: float = 0.1, seed: int = 7) -> list[dict]:
    """Set `split` to train|eval by a seeded hash of the row's file, so a file is on one side only."""
    if not 0.0 <= eval_share <= 1.0:
        raise ValueError(f"eval_share must be within [0, 1], got {eval_share}")
    out = []
    for row in rows:
        bucket = _digest64(f"{seed}:{split_group(row)}") / float(1 << 64)
        out.append({**row, "split": "eval" if bucket < eval_share else "train"})
    return out


def _target_ngrams(text: str, n: int) -> set[int]:
    tokens = _TOKEN.findall(text or "")
    return {_digest64(" ".join(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


def _target_key(row: dict) -> str:
    # whitespace around a target is the editor's, not the answer's
    return (row.get("target") or "").strip()


def decontaminate(
    train_rows: Sequence[dict],
    eval_rows: Sequence[dict],
    near_threshold: float = 0.85,
    ngram: int = 13,
) -> tuple[list[dict], int]:
    """Drop training rows that leak an eval/regression row; eval sets stay stable across runs.

    A training row leaks when it is an exact or near duplicate of an eval row, when its
    target is an eval target (short targets have no `ngram`-token run to share), or when its
    target shares a `ngram`-token run with an eval target (the usual benchmark-contamination
    test). Returns (clean training rows, number removed). The test is symmetric: to clean a
    new eval or regression set against the training data instead, swap the arguments.
    """
    eval_exact = {exact_key(r) for r in eval_rows}
    eval_targets = {_target_key(r) for r in eval_rows}
    index = _NearIndex(near_threshold)
    eval_grams: set[int] = set()
    for r in eval_rows:
        index.add(_shingles(_window(r)))
        eval_grams |= _target_ngrams(r.get("target", ""), ngram)
    clean = []
    for row in train_rows:
        if exact_key(row) in eval_exact or _target_key(row) in eval_targets:
            continue
        if index.match(_shingles(_window(row))) is not None:
            continue
        if eval_grams and not eval_grams.isdisjoint(_target_ngrams(row.get("target", ""), ngram)):
            continue
        clean.append(dict(row))
    return clean, len(train_rows) - len(clean)
