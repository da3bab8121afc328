"""How a person meets a completion: trigger, request, gate, judgement, action.

`Completions` is mixed into session.Writer: it uses the writer's document, cursor and
typing helpers (`_edit`, `_flush_typed_over`, `_in_indent`), and records each shown
completion's region (truth.Region) and truth row.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from echo_ops.simulate.editor import _dumps, lsp_position_dict
from echo_ops.simulate.people import cut_to_lines, decide, first_word
from echo_ops.simulate.proposers import confidence
from echo_ops.simulate.truth import Region


class Completions:
    """The completion half of a Writer (see session.py)."""

    def _trigger(self, block: str, k: int, line_start: bool) -> bool:
        r = self.rng.random()
        if line_start:  # after a blank line people pause longest: a new thought
            return r < (0.9 if self.doc.pending_trim is not None else 0.5)
        prev = block[k - 1] if k else ""
        if prev in "(.":
            return r < 0.35
        return prev == " " and r < 0.06  # a typing pause at a word boundary

    def _intended(self, block: str, k: int, line_start: bool) -> str:
        if self.pend:
            return block[k : self.pend[-1][1]]
        lines = self.rng.choice((1, 1, 2, 3)) if line_start else 1
        return cut_to_lines(block[k:], lines - 1)

    def _complete(self, block: str, k: int) -> int:
        self._flush()
        s, doc, cfg, rng = self.s, self.doc, self.cfg, self.rng
        self._flush_typed_over()
        s.wait(rng.randint(250, 1200))  # the pause that fires the request
        line_start = self._in_indent()
        intended = self._intended(block, k, line_start)
        text, cur = doc.text, self.cur
        prefix = text[max(0, cur - cfg.prompt_prefix_chars) : cur]
        suffix = text[cur : cur + cfg.prompt_suffix_chars]
        prop = self._propose(prefix, suffix, intended)
        self.n_completions += 1
        rid = f"r-{s.session_id}-{self.n_completions}"
        latency = rng.randint(60, 450)
        gate = getattr(self.proposer, "show_min_prob", None)  # a model's calibrated gate
        gate = cfg.show_min_prob if gate is None else gate
        shown = bool(prop.text) and confidence(prop) >= gate
        record = {
            "schema_version": 1,
            "request_id": rid,
            "user_id": s.user_id,  # the server knows who asked (forget needs it)
            "ts": s.server_ts(s.now + latency),
            "model_version": self.proposer.model_version,
            "prompt": {"prefix": prefix, "suffix": suffix},
            "completion": prop.text,
            "latency_ms": latency,
        }
        arm = getattr(self.proposer, "arm", None)
        if arm is not None:  # a flywheel run: which arm of the A/B served this request
            record["arm"] = arm
        s.server.append((s.now + latency, _dumps(record)))
        self.counts["requests"] += 1
        if not shown:
            return k
        s.wait(latency)
        return self._show(block, k, prop, intended, rid, prefix, suffix)

    def _propose(self, prefix: str, suffix: str, intended: str):
        if hasattr(self.proposer, "propose_with_intent"):
            n = len(intended.split("\n"))
            i = self.rng.randrange(len(self.other))
            other = self.eol.join(
                ln.lstrip(" ") if j == 0 else ln for j, ln in enumerate(self.other[i : i + n])
            )
            return self.proposer.propose_with_intent(prefix, suffix, intended, other)
        return self.proposer.propose(prefix, suffix)

    def _show(self, block, k, prop, intended, rid, prefix, suffix) -> int:
        s, doc, rng = self.s, self.doc, self.rng
        cid = f"c-{s.session_id}-{self.n_completions}"
        pos = lsp_position_dict(doc.text, self.cur, s.encoding)
        shown_ts = s.emit(
            "completion.shown",
            doc,
            completion_id=cid,
            request_id=rid,
            position=pos,
            items=[{"insert_text": prop.text, "range": {"start": pos, "end": pos}}],
        )
        self.counts["shown"] += 1
        secrets = [
            x
            for x in self.plan.secrets
            if x["value"] in prefix or x["value"] in suffix or x["value"] in prop.text
        ]
        row = {
            "completion_id": cid,
            "request_id": rid,
            "user_id": s.user_id,
            "session_id": s.session_id,
            "doc_uri": doc.uri,
            "shown_ts": shown_ts,
            "proposal_text": prop.text,
            "proposal_quality": prop.quality,
            "planted_secrets": secrets,
            "doc_secrets": self.plan.secrets,
        }
        region = Region(row, self.cur, prop.text, s.now)
        doc.track(region)
        s.truth.append(region)
        choice = decide(self.person, prop.text, intended, rng)
        s.wait(rng.randint(200, 1500))
        return self._act(choice, block, k, prop.text, intended, cid, region, row)

    def _accept(self, text: str, kind: str, cid: str, region: Region) -> None:
        at = self.cur
        at += self._edit(at, at, text, wait=1)
        self.s.emit(
            "completion.accepted",
            self.doc,
            completion_id=cid,
            item_index=0,
            accepted_text=text,
            accept_kind=kind,
        )
        region.accept(at, at + len(text), self.s.now)
        self.counts["accepted"] += 1

    def _act(self, choice, block, k, proposal, intended, cid, region, row) -> int:
        outcomes = {
            "keep": "accepted_kept",
            "refine": "accepted_refined",
            "delete": "accepted_deleted",
            "line": "partial_accepted",
            "word": "partial_accepted",
        }
        row["intended_outcome"] = outcomes.get(choice, "rejected")
        row["decision"] = choice
        if choice in ("keep", "refine", "delete"):
            self._accept(proposal, "full", cid, region)
            if choice == "keep":
                return k + len(proposal)
            if choice == "delete":
                self._edit(region.start, region.end, "", wait=self.rng.randint(300, 1500))
                return k
            target = cut_to_lines(intended, proposal.count("\n"))
            self._refine(region.start, proposal, target)
            return k + len(target)
        if choice in ("line", "word"):
            part = (
                proposal[: proposal.index("\n") + 1] if choice == "line" else first_word(proposal)
            )
            self._accept(part, choice, cid, region)
            return k + len(part)
        if choice == "dismissed":
            self.s.emit("completion.rejected", self.doc, completion_id=cid, reason="dismissed")
        elif choice == "typed_over":
            self.typed_over = (cid, self.rng.randint(1, 3))
        return k

    def _refine(self, start: int, proposal: str, target: str) -> None:
        """Edit the accepted text into what the person meant, left to right."""
        delta = 0
        ops = SequenceMatcher(None, proposal, target, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                continue
            a, b = start + i1 + delta, start + i2 + delta
            self.s.wait(self.rng.randint(300, 1500))
            if b - a > 3:
                self._edit(a, b, "")  # select and delete
            else:
                for x in range(b - a):  # Backspace from the end of the span
                    self._edit(b - x - 1, b - x, "")
            pos = a
            for piece in re.findall(r"\r\n|.", target[j1:j2], re.S):
                self._edit(pos, pos, piece)
                pos += len(piece)
            delta += (j2 - j1) - (i2 - i1)
        self.cur = start + len(target)
