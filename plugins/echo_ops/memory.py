"""A fast non-parametric memory of the team's code beside the network (a cache LM).

Code is local: a project's own identifiers, call shapes and idioms recur across its files,
and a small network trained on other code cannot know them. Cache and kNN language models
add that back at serving time without training: find the places in the team's code where
the last tokens already occurred (the longest match of at least `min_match` tokens), and
mix the tokens that followed there into the network's next-token distribution,

    p(t) = (1 - lam) * p_net(t) + lam * count(t) / n,   lam = weight * n / (n + 1)

(n continuations found; a single one gets half the weight). The memory is the text of each
document as the editors last opened it before the serving day (`load_memory_texts`: what
Echo's telemetry already holds) plus the request's own editor window, which is longer than
the prompt the network sees. Nothing typed on the serving day is in it.

Index: all texts tokenized into one array (documents separated by -1); the positions of
every `min_match`-gram sorted by its key, so a lookup is a binary search and the longer
matches are found by checking the tokens before each hit, vectorised (numpy).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import numpy as np

SEP = -1


class MemoryIndex(NamedTuple):
    tokens: np.ndarray  # int64, documents separated by SEP, ending with SEP
    keys: np.ndarray  # sorted keys of the min_match-grams that have a continuation
    ends: np.ndarray  # position of each key's last token in `tokens`
    min_match: int
    base: int  # key radix (> every token id)


def build_index(
    token_lists: list[list[int]], min_match: int = 3, base: int = 1 << 16
) -> MemoryIndex:
    """The index of `token_lists` (each a tokenized document)."""
    parts = [np.asarray([*ids, SEP], dtype=np.int64) for ids in token_lists if ids]
    tokens = np.concatenate(parts) if parts else np.asarray([SEP], dtype=np.int64)
    n = len(tokens) - min_match  # windows tokens[i : i + min_match] followed by a token
    if n <= 0:
        return MemoryIndex(tokens, np.zeros(0, np.int64), np.zeros(0, np.int64), min_match, base)
    windows = np.lib.stride_tricks.sliding_window_view(tokens[:-1], min_match)[:n]
    nxt = tokens[min_match : min_match + n]
    ok = (windows >= 0).all(axis=1) & (nxt >= 0)
    keys = _keys(windows[ok], base)
    ends = np.nonzero(ok)[0] + min_match - 1
    order = np.argsort(keys, kind="stable")
    return MemoryIndex(tokens, keys[order], ends[order], min_match, base)


def _keys(windows: np.ndarray, base: int) -> np.ndarray:
    key = np.zeros(len(windows), dtype=np.int64)
    for j in range(windows.shape[1]):  # exact for min_match * log2(base) <= 63 bits
        key = key * base + windows[:, j]
    return key


def continuations(index: MemoryIndex, context: list[int], max_order: int) -> tuple[int, np.ndarray]:
    """(match length, the tokens that followed each longest match of `context`'s end)."""
    k = index.min_match
    if len(context) < k or not len(index.keys):
        return 0, np.zeros(0, np.int64)
    key = int(_keys(np.asarray([context[-k:]], dtype=np.int64), index.base)[0])
    lo, hi = np.searchsorted(index.keys, [key, key + 1])
    if lo == hi:
        return 0, np.zeros(0, np.int64)
    ends, length = index.ends[lo:hi], k
    while length < min(max_order, len(context)):
        before = ends - length
        hit = (before >= 0) & (index.tokens[np.maximum(before, 0)] == context[-1 - length])
        if not hit.any():
            break
        ends, length = ends[hit], length + 1
    return length, index.tokens[ends + 1]


def mix(logp, hits: list[tuple[int, np.ndarray]], weight: float):
    """The network's log-probabilities (a torch vector) mixed with the memory's
    continuations: the longest match among `hits` wins, equal lengths pool their tokens."""
    import torch

    best = max((length for length, nxt in hits if len(nxt)), default=0)
    nxt = [t for length, t in hits if length == best and len(t)]
    if not best or not nxt:
        return logp
    ids, counts = np.unique(np.concatenate(nxt), return_counts=True)
    n = counts.sum()
    lam = weight * n / (n + 1)
    p = logp.exp() * (1 - lam)
    p[torch.as_tensor(ids, device=logp.device)] += torch.as_tensor(
        lam * counts / n, dtype=p.dtype, device=logp.device
    )
    return p.log()


def load_memory_texts(con, before: date) -> list[str]:
    """The text of each document as it was last opened (or snapshotted) before `before`."""
    from echo_ops.warehouse import read_sql

    return [
        r[0] for r in con.execute(read_sql("serve/memory_texts"), {"before": before}).fetchall()
    ]


def team_memory(texts: list[str], tokenizer, min_match: int = 3) -> MemoryIndex:
    """The index of the team's texts under the serving model's tokenizer."""
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    return build_index(ids, min_match, max(len(tokenizer), 1 << 16))
