"""A team's repository over weeks: which code is written on which day, in which file.

`simulate.deployment = "repo"` (the flywheel's mode) replaces the stream of unrelated
files with one codebase that grows. Every file of the deployment corpus has a plan
(`RepoFile`): some of it exists from the day the file appears (the scaffold), the rest is
cut into blocks, and each block is written on one day, by the person that day's work on
the file goes to. On day d a person opens the file as it is then (the scaffold and every
block written before d), and writes the blocks of day d into it; blocks of later days do
not exist yet. Half of the files exist on the first day; the others appear on a later
one. So days revisit files and add new code to them, new files appear, and the same code
is never typed twice at the same place: a line whose text occurs again in its file is
written at most once (the other copies are scaffold), so no line typed on a day can have
been a training target in the same file on an earlier day; the lines the simulator plants
in a day's blocks (a non-ASCII comment) end with that day's tag for the same reason.
Lines that recur across files (`return None`) are fine and are counted by the flywheel.

Everything is a pure function of (corpus, seed, run length, people): the same plan in
every worker process and on every re-run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from echo_ops.corpus import list_files, load_lines
from echo_ops.simulate.corpus import DocPlan, finish_plan, pick_holes


@dataclass(frozen=True)
class RepoFile:
    relpath: str
    path: Path
    lines: tuple[str, ...]
    appear_day: int
    blocks: tuple[tuple[int, int, int], ...]  # (first line, count, day written), ascending


@dataclass(frozen=True)
class RepoPlan:
    root: Path
    seed: int
    days: int
    files: tuple[RepoFile, ...]

    def work(self, day: int, users: int) -> dict[int, list[RepoFile]]:
        """Files with blocks to write on `day`, shared out among `users` people: each file's
        day goes to one person (a seeded round robin over a shuffled list)."""
        todo = [f for f in self.files if any(d == day for *_, d in f.blocks)]
        random.Random(f"{self.seed}:repo-work:{day}").shuffle(todo)
        out: dict[int, list[RepoFile]] = {u: [] for u in range(users)}
        for i, f in enumerate(todo):
            out[i % users].append(f)
        return out


@lru_cache(maxsize=8)
def plan_repo(
    root: Path, seed: int, days: int, max_lines: int = 800, write_share: float = 0.6
) -> RepoPlan:
    """The whole run's plan for the codebase under `root` (see the module docstring)."""
    files = []
    for path in list_files(root):
        lines = load_lines(path)
        if not lines or len(lines) < 12:
            continue
        rel = path.relative_to(root).as_posix()
        rng = random.Random(f"{seed}:repo:{rel}")
        lines = lines[:max_lines]
        appear = 0 if rng.random() < 0.5 or days == 1 else rng.randrange(days)
        blocks = _unique_blocks(lines, pick_holes(len(lines), write_share, rng), appear, days, rng)
        if blocks:
            files.append(RepoFile(rel, path, lines, appear, tuple(blocks)))
    return RepoPlan(root, seed, days, tuple(files))


def _unique_blocks(lines, holes, appear: int, days: int, rng: random.Random):
    """Give each block a day in [appear, days), then keep as written only the first (by day,
    then position) copy of each line text in the file: later copies become scaffold,
    splitting their block (a scaffold line between two blocks is what the writer needs)."""
    dated = sorted(
        ((rng.randrange(appear, days), h, c) for h, c in holes), key=lambda t: (t[0], t[1])
    )
    seen: set[str] = set()
    out = []
    for day, h, c in dated:
        run_start = None
        for i in range(h, h + c + 1):
            text = lines[i].strip() if i < h + c else None
            fresh = text is not None and (not text or text not in seen)
            if fresh:
                if text:
                    seen.add(text)
                run_start = i if run_start is None else run_start
            elif run_start is not None:
                out.append((run_start, i - run_start, day))
                run_start = None
    out = [b for b in out if any(lines[i].strip() for i in range(b[0], b[0] + b[1]))]
    out.sort()
    merged: list[tuple[int, int, int]] = []
    for b in out:  # two blocks touching each other would have no line between them
        if merged and merged[-1][0] + merged[-1][1] >= b[0]:
            continue
        merged.append(b)
    return merged


def day_document(
    rf: RepoFile, day: int, rng: random.Random, crlf_share: float, non_ascii_rate: float,
    secret: dict | None, language_id: str,
) -> DocPlan | None:  # fmt: skip
    """The file as a person finds it on `day` (scaffold + earlier blocks) with the day's
    blocks to write; None when it has nothing to write that day."""
    later = {i for h, c, d in rf.blocks if d > day for i in range(h, h + c)}
    keep = [i for i in range(len(rf.lines)) if i not in later]
    at = {old: new for new, old in enumerate(keep)}
    holes = [(at[h], c) for h, c, d in rf.blocks if d == day]
    if not holes:
        return None
    lines = [rf.lines[i] for i in keep]
    return finish_plan(rf.relpath, lines, holes, rng, crlf_share, non_ascii_rate, secret,
                       language_id, plant_tag=f" (day {day})")  # fmt: skip
