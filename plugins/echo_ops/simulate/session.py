"""One person writing one document: keystrokes, editor reflexes, completions, noise.

`Writer.write_document` opens the plan's initial text and turns it into the intended
text: blocks in random order (cursor jumps; edits above earlier work shift it), junk
lines deleted, one rename (a multi-change event), saves, then save and close. Within a
block the person types as in a real editor (auto-indent on Enter, auto-closed brackets
and quotes typed over, Backspace by indent unit and by pair, Tab), slips (typos fixed
with Backspace, a run of typing undone and redone, a paste undone) and meets completion
proposals at trigger points, which they judge by `people.decide` and act on.
"""

from __future__ import annotations

import random
import re

from echo_ops.simulate.completions import Completions
from echo_ops.simulate.corpus import DocPlan
from echo_ops.simulate.editor import Session, SimDoc
from echo_ops.simulate.people import Person

_OPEN = {"(": ")", "[": "]", "{": "}", '"': '"', "'": "'"}
_LETTERS = "etaoinshrdlucmfwypvbgk"
INDENT = "    "


def _closer_index(line: str, k: int) -> int | None:
    """Where the bracket/quote at `line[k]` closes on the same line, if simply decidable."""
    c = line[k]
    if "#" in line or "\\" in line:
        return None
    if c in "([{":
        if '"' in line or "'" in line:
            return None
        depth = 0
        for m in range(k, len(line)):
            if line[m] in "([{":
                depth += 1
            elif line[m] in ")]}":
                depth -= 1
                if depth == 0:
                    return m if line[m] == _OPEN[c] else None
        return None
    quotes = [m for m, ch in enumerate(line) if ch in "\"'"]
    if len(quotes) == 2 and quotes[0] == k and line[quotes[1]] == c:
        return quotes[1]
    return None


class Writer(Completions):
    """Drives one document through a person's work; see the module docstring."""

    def __init__(
        self, session: Session, person: Person, proposer, rng: random.Random, cfg, counts: dict
    ) -> None:
        self.s, self.person, self.proposer, self.rng, self.cfg = session, person, proposer, rng, cfg
        self.counts = counts
        self.doc: SimDoc
        self.cur = 0
        self.pend: list[tuple[str, int]] = []  # auto-inserted closers after the cursor
        self.typed_over: tuple[str, int] | None = None
        self._run: list[str] = []  # plain keystrokes not yet applied (see _flush)
        self._run_waits: list[int] = []
        self._run_at = 0
        self.n_completions = 0

    # --- the document -------------------------------------------------------------

    def write_document(self, plan: DocPlan, uri: str) -> None:
        s, rng = self.s, self.rng
        self.plan, self.eol = plan, plan.eol
        self.doc = SimDoc(s, uri, plan.initial(), plan.eol, plan.language_id)
        self.other = [ln for ln in plan.lines if ln.strip()]
        filled: set[int] = set()
        junk = list(plan.junk)
        chores = ["junk"] * len(junk) + (["rename"] if plan.rename else [])
        chores += ["comment"] if rng.random() < 0.5 else []
        rng.shuffle(chores)
        order = list(range(len(plan.holes)))
        rng.shuffle(order)
        for n, hole in enumerate(order):
            if chores and rng.random() < 0.5:
                self._chore(chores.pop(), filled, junk)
            s.wait(rng.randint(1500, 25_000))  # think, then jump to the next block
            h, c = plan.holes[hole]
            at = self._line_end(self._doc_line(h - 1, filled, junk))
            block = self.eol + self.eol.join(plan.lines[h : h + c])
            self._write_block(at, block)
            filled.add(hole)
            if n % 3 == 2:
                s.wait(rng.randint(300, 3000))
                self.doc.save()
        while chores:
            self._chore(chores.pop(), filled, junk)
        s.wait(rng.randint(500, 4000))
        self.doc.save()
        s.wait(rng.randint(200, 2000))
        self.doc.close()
        s.documents[-1].update(
            is_intended=self.doc.text == plan.intended, planted_secrets=plan.secrets
        )

    def _doc_line(self, x: int, filled: set[int], junk: list[int]) -> int:
        """The current line number of intended line `x` (not inside an unwritten block)."""
        missing = sum(
            c for i, (h, c) in enumerate(self.plan.holes) if i not in filled and h + c <= x
        )
        return x - missing + sum(1 for j in junk if j <= x)

    def _line_start(self, line: int) -> int:
        pos = 0
        for _ in range(line):
            pos = self.doc.text.index("\n", pos) + 1
        return pos

    def _line_end(self, line: int) -> int:
        start = self._line_start(line)
        end = self.doc.text.find("\n", start)
        end = len(self.doc.text) if end < 0 else end
        return (
            end - 1
            if self.eol == "\r\n" and end > start and self.doc.text[end - 1] == "\r"
            else end
        )

    def _chore(self, chore: str, filled: set[int], junk: list[int]) -> None:
        self.s.wait(self.rng.randint(800, 6000))
        if chore == "junk":
            x = junk.pop(self.rng.randrange(len(junk)))
            start = self._line_start(self._doc_line(x, filled, junk))
            self.doc.change([(start, self.doc.text.index("\n", start) + 1, "")])
            return
        if chore == "comment":
            self._toggle_comment()
            return
        new, old = self.plan.rename
        parts, text, delta = [], self.doc.text, 0
        for m in re.finditer(rf"\b{old}\b", text):  # top to bottom: each shifts the next
            parts.append((m.start() + delta, m.end() + delta, new))
            delta += len(new) - len(old)
        if parts:
            self.doc.change(parts)

    def _toggle_comment(self) -> None:
        """Comment 2-4 lines out and back in: one multi-cursor change per toggle."""
        text = self.doc.text
        starts = [0] + [m.end() for m in re.finditer("\n", text)][:-1]
        first = self.rng.randrange(max(1, len(starts) - 4))
        picked = starts[first : first + self.rng.randint(2, 4)]
        lines = [text[a : text.find("\n", a)].rstrip("\r") for a in picked]
        if not all(ln.strip() for ln in lines):
            return
        col = min(len(ln) - len(ln.lstrip(" ")) for ln in lines)
        mark = "# " if self.plan.language_id in ("python", "ruby") else "// "
        on, shift = [], 0
        for a in picked:  # top to bottom: each change sees the marks added above it
            on.append((a + col + shift, a + col + shift, mark))
            shift += len(mark)
        self.doc.change(on)
        self.s.wait(self.rng.randint(800, 4000))
        size = len(mark)  # removing a mark moves the marks below it up by its size
        self.doc.change([(i - n * size, i - n * size + size, "") for n, (i, _, _) in enumerate(on)])

    # --- a block ----------------------------------------------------------------------

    def _write_block(self, at: int, block: str) -> None:
        self.cur, self.pend, k, line_start = at, [], 0, False
        rng, p = self.rng, self.person
        while k < len(block):
            if block.startswith(self.eol, k):
                k = self._enter(block, k)
                line_start = True
                continue
            if self.typed_over is None and self._trigger(block, k, line_start):
                k = self._complete(block, k)
                line_start = False
                continue
            line_start = False
            c = block[k]
            if c == " " and block.startswith(INDENT, k) and self._in_indent():
                self._edit(self.cur, self.cur, INDENT)  # Tab
                k += len(INDENT)
                continue
            roll = rng.random()
            if roll < p.typo_rate and c.isalpha():
                self._typo()
            elif roll < p.typo_rate + p.undo_rate and c == " ":
                self._undo_run()
            elif roll < p.typo_rate + p.undo_rate + p.paste_revert_rate:
                self._paste_revert()
            self._type_char(block, k)
            k += 1
        self._flush_typed_over()
        if self.doc.pending_trim is not None:
            self.s.wait(rng.randint(100, 400))
            self.doc.change([])  # leaving the line trims its auto-indent

    def _flush(self) -> None:
        """Type the plain keystrokes held back by `_type_char` (one text update)."""
        if self._run:
            self.doc.type_run(self._run_at, self._run, self._run_waits)
            self._run, self._run_waits = [], []

    def _edit(self, i: int, j: int, t: str, wait: int | None = None) -> int:
        self._flush()
        self.s.wait(wait if wait is not None else self._key_ms())
        shift = self.doc.change([(i, j, t)])
        self.cur = i + shift + len(t)
        if self.typed_over is not None:
            cid, left = self.typed_over
            self.typed_over = (cid, left - 1) if left > 1 else None
            if left <= 1:
                self.s.emit("completion.rejected", self.doc, completion_id=cid, reason="typed_over")
        return shift

    def _flush_typed_over(self) -> None:
        self._flush()
        if self.typed_over is not None:
            cid, self.typed_over = self.typed_over[0], None
            self.s.emit("completion.rejected", self.doc, completion_id=cid, reason="typed_over")

    def _key_ms(self) -> int:
        m = self.person.ms_per_char
        return int(m * 0.4 + self.rng.random() * m * 1.2)

    def _in_indent(self) -> bool:
        self._flush()
        start = self.doc.text.rfind("\n", 0, self.cur) + 1
        return not self.doc.text[start : self.cur].strip(" ")

    def _enter(self, block: str, k: int) -> int:
        self._flush()
        text = self.doc.text
        start = text.rfind("\n", 0, self.cur) + 1
        line = text[start : self.cur]
        indent = line[: len(line) - len(line.lstrip(" "))]
        auto = indent + (INDENT if line.rstrip().endswith((":", "(", "[", "{")) else "")
        k += len(self.eol)
        nxt = block[k:].split(self.eol, 1)[0]
        stash = None
        if nxt and self.doc.pending_trim is not None:
            # The editor trims the blank line's auto-indent with the next edit on the new line.
            stash, self.doc.pending_trim = self.doc.pending_trim, None
        self._edit(self.cur, self.cur, self.eol + auto)
        self.doc.pending_trim = stash
        if not nxt and auto:
            self.doc.pending_trim = (self.cur - len(auto), len(auto))
            return k
        have, want = len(auto), len(nxt) - len(nxt.lstrip(" "))
        while have > want:  # Backspace in indentation removes a whole indent unit
            n = (have - 1) % len(INDENT) + 1
            self._edit(self.cur - n, self.cur, "")
            have -= n
        while have < want:
            t = INDENT if want - have >= len(INDENT) and have % len(INDENT) == 0 else " "
            self._edit(self.cur, self.cur, t)
            have += len(t)
        return k + want

    def _type_char(self, block: str, k: int) -> None:
        c = block[k]
        if self.pend and self.pend[-1] == (c, k):
            self.pend.pop()
            self._edit(self.cur, self.cur + 1, c)  # typing the auto-inserted closer overtypes it
            return
        if c in _OPEN:
            ls = block.rfind("\n", 0, k) + 1
            le = block.find(self.eol, k)
            line = block[ls : len(block) if le < 0 else le]
            m = _closer_index(line, k - ls)
            if m is not None:
                self._edit(self.cur, self.cur, c + _OPEN[c])
                self.cur -= 1
                if self.rng.random() < 0.05:  # Backspace between the pair removes both
                    self._edit(self.cur - 1, self.cur + 1, "")
                    self._edit(self.cur, self.cur, c + _OPEN[c])
                    self.cur -= 1
                self.pend.append((_OPEN[c], ls + m))
                return
        if self.typed_over is None and self.doc.pending_trim is None:
            if not self._run:
                self._run_at = self.cur
            self._run.append(c)  # a plain keystroke: applied with its neighbours
            self._run_waits.append(self._key_ms())
            self.cur += 1
            return
        self._edit(self.cur, self.cur, c)

    def _typo(self) -> None:
        n = 1 if self.rng.random() < 0.7 else 2
        for _ in range(n):
            self._edit(self.cur, self.cur, self.rng.choice(_LETTERS))
        for _ in range(n):
            self._edit(self.cur - 1, self.cur, "", wait=self.rng.randint(150, 500))

    def _undo_run(self) -> None:
        start = self.cur
        for n in range(self.rng.randint(3, 8)):
            shift = self._edit(self.cur, self.cur, self.rng.choice(_LETTERS))
            start += shift if n == 0 else 0
        run = self.doc.text[start : self.cur]
        self._edit(start, self.cur, "", wait=self.rng.randint(400, 1500))  # one undo, whole run
        if self.rng.random() < 0.5:
            self._edit(start, start, run, wait=self.rng.randint(300, 900))  # redo
            self._edit(start, self.cur, "", wait=self.rng.randint(300, 900))  # and undo again

    def _paste_revert(self) -> None:
        start = self.rng.randrange(len(self.other))
        chunk = self.eol.join(self.other[start : start + self.rng.randint(1, 4)])
        at = self.cur
        at += self._edit(at, at, chunk, wait=self.rng.randint(500, 2000))
        self._edit(at, at + len(chunk), "", wait=self.rng.randint(500, 2500))
