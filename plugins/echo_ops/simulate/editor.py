"""The simulated editor: documents changed by LSP edits, each emitted as a v1 event.

A `Session` is one editor process of one person (its clock, client and event counter);
a `SimDoc` is one open document. Every change goes through `SimDoc.change`, which emits
the `document.changed` event, applies it to the text and moves every live completion
region (truth.Region), so the truth follows exactly what the events say.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

from echo_ops.simulate.truth import Region
from echo_ops.textdoc import unit_len

_EPOCH = date(1970, 1, 1)
_DAY_MS = 86_400_000


class _Clock:
    """RFC 3339 UTC with milliseconds, cheaply: everything up to the second is cached."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._second, self._prefix = -1, ""

    def fmt(self, ms: int) -> str:
        second, milli = divmod(ms, 1000)
        if second != self._second:
            day, rest = divmod(second, 86_400)
            prefix = self._days.get(day)
            if prefix is None:
                prefix = self._days[day] = (_EPOCH + timedelta(days=day)).isoformat()
            h, rest = divmod(rest, 3600)
            m, sec = divmod(rest, 60)
            self._second, self._prefix = second, f"{prefix}T{h:02d}:{m:02d}:{sec:02d}."
        return f"{self._prefix}{milli:03d}Z"


_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII lines join and gzip fastest
_STR_CACHE: dict[str, str] = {}
_CHANGED_TS = '","type":"document.changed","ts":"'


def json_str(t: str) -> str:
    """JSON string literal of `t` (cached: most edits are one keystroke)."""
    out = _STR_CACHE.get(t)
    if out is None:
        out = _dumps(t)
        if len(t) <= 8 and len(_STR_CACHE) < 50_000:
            _STR_CACHE[t] = out
    return out


def day_start_ms(day: date) -> int:
    return (day - _EPOCH).days * _DAY_MS


def lsp_position(text: str, i: int, encoding: str) -> tuple[int, int]:
    """(line, character) of str index `i` (the simulator writes no lone CR, so '\\n' ends lines)."""
    start = text.rfind("\n", 0, i) + 1
    seg = text[start:i]
    ch = len(seg) if encoding == "utf-32" or seg.isascii() else unit_len(seg, encoding)
    return text.count("\n", 0, start), ch


def lsp_position_dict(text: str, i: int, encoding: str) -> dict[str, int]:
    line, ch = lsp_position(text, i, encoding)
    return {"line": line, "character": ch}


class Session:
    """One person's editor session: clock, identity and the events it has emitted."""

    def __init__(
        self,
        user_id: str,
        session_id: str,
        client: dict,
        skew_ms: int,
        start_ms: int,
        quiet_s: float,
        horizon_s: float,
    ) -> None:
        self.static = {"user_id": user_id, "session_id": session_id, "client": client}
        # The same fields, serialised once: document.changed lines are built as text.
        self._static_json = _dumps(self.static)[1:-1]
        self._id_head = f'{{"schema_version":1,"event_id":"{session_id}.'
        self.user_id, self.session_id, self.client = user_id, session_id, client
        self.encoding = client.get("position_encoding", "utf-16")
        self.skew_ms, self.now = skew_ms, start_ms
        self.quiet_ms, self.horizon_ms = int(quiet_s * 1000), int(horizon_s * 1000)
        self.events: list[tuple[int, str]] = []  # (true ms, serialised event)
        self.server: list[tuple[int, str]] = []  # (true ms, serialised server log record)
        self.types: Counter = Counter()
        self.n_changed = 0
        self.truth: list[Region] = []
        self.documents: list[dict] = []
        self._seq = 0
        self._clock = _Clock()

    def server_ts(self, ms: int) -> str:
        return self._clock.fmt(ms)  # the server's clock is right; clients' are skewed

    def wait(self, ms: int) -> None:
        self.now += max(1, ms)

    def emit(self, type_: str, doc: SimDoc | None = None, **fields) -> str:
        """Emit one client event; returns its `ts`."""
        self._seq += 1
        ts = self._clock.fmt(self.now + self.skew_ms)
        event = {
            "schema_version": 1,
            "event_id": f"{self.session_id}.{self._seq:x}",
            "type": type_,
            "ts": ts,
            **self.static,
        }
        if doc is not None:
            event["doc"] = {"uri": doc.uri, "version": doc.version, "language_id": doc.language_id}
        event.update(fields)
        self.events.append((self.now, _dumps(event)))
        self.types[type_] += 1
        return ts

    def emit_changed(self, doc: SimDoc, changes_json: str) -> None:
        """The hot path: a document.changed line built as text, same shape as `emit`'s."""
        self._seq += 1
        ts = self._clock.fmt(self.now + self.skew_ms)
        line = f"{self._id_head}{self._seq:x}{_CHANGED_TS}{ts}{doc.line_mid}{doc.version}{doc.line_tail}{changes_json}]}}"
        self.events.append((self.now, line))
        self.n_changed += 1  # a plain int: this is the hot path (see type_counts)

    def type_counts(self) -> Counter:
        return self.types + Counter({"document.changed": self.n_changed})


class SimDoc:
    """An open document: its text, LSP version and the regions still settling in it."""

    def __init__(
        self, session: Session, uri: str, text: str, eol: str, language_id: str = "python"
    ):
        self.session, self.uri, self.text, self.eol = session, uri, text, eol
        self.language_id, self.version = language_id, 1
        self.uri_json = _dumps(uri)
        # The constant pieces of this document's document.changed lines (Session.emit_changed).
        self.line_mid = f'",{session._static_json},"doc":{{"uri":{self.uri_json},"version":'
        self.line_tail = f',"language_id":"{language_id}"}},"changes":['
        self._line_cache = (-1, 0)  # (index where a line starts, its line number)
        self.regions: list[Region] = []
        self.pending_trim: tuple[int, int] | None = None  # auto-indent left on a blank line
        session.emit("document.opened", self, text=text)

    def _settle_due(self) -> None:
        if not self.regions:
            return
        s = self.session
        live = []
        for r in self.regions:
            reason = r.due(s.now, s.quiet_ms, s.horizon_ms)
            if reason:
                r.settle(self.text, reason)
            else:
                live.append(r)
        self.regions = live

    def _settle_all(self, reason: str) -> None:
        for r in self.regions:
            r.settle(self.text, reason)
        self.regions = []

    def change(self, parts: list[tuple[int, int, str]]) -> int:
        """Emit and apply one `document.changed`; each (i, j, t) indexes the text left by
        the part before it. A pending auto-indent trim rides along, as editors do; returns
        how far that trim moved the caller's first part (0 or minus its length)."""
        self._settle_due()
        shift = 0
        if self.pending_trim is not None:
            parts, shift = self._with_trim(parts)
        text, enc, now = self.text, self.session.encoding, self.session.now
        changes = []
        for i, j, t in parts:
            a = self._position(text, i, enc)
            b = a if j == i else self._position(text, j, enc)
            if i < self._line_cache[0]:
                self._line_cache = (-1, 0)  # an edit above the cached line moves it
            changes.append(
                f'{{"range":{{"start":{{"line":{a[0]},"character":{a[1]}}},'
                f'"end":{{"line":{b[0]},"character":{b[1]}}}}},"text":{json_str(t)}}}'
            )
            for r in self.regions:
                r.apply(i, j, t, text, now)
            text = text[:i] + t + text[j:]
        self.text = text
        self.version += 1
        self.session.emit_changed(self, ",".join(changes))
        return shift

    def type_run(self, i: int, chars: list[str], waits: list[int]) -> None:
        """Type `chars` at `i`, one `document.changed` per keystroke after its wait: the
        same events as change([(i + n, i + n, c)]) each, with one text update at the end.
        No line breaks; no pending trim."""
        session, text = self.session, self.text
        enc = session.encoding
        line, ch = self._position(text, i, enc)
        emit = session.emit_changed
        for n, (c, w) in enumerate(zip(chars, waits, strict=True)):
            session.now += max(1, w)
            if self.regions:
                self._settle_run(text, i, chars, n)
                for r in self.regions:
                    r.insert_char(i + n, session.now)
            self.version += 1
            pos = f'{{"line":{line},"character":{ch}}}'
            emit(self, f'{{"range":{{"start":{pos},"end":{pos}}},"text":{json_str(c)}}}')
            ch += 1 if c < "\x80" or enc == "utf-32" else unit_len(c, enc)
        self.text = text[:i] + "".join(chars) + text[i:]

    def _settle_run(self, text: str, i: int, chars: list[str], n: int) -> None:
        s = self.session
        if any(r.due(s.now, s.quiet_ms, s.horizon_ms) for r in self.regions):
            self.text = text[:i] + "".join(chars[:n]) + text[i:]  # the text as of now
            self._settle_due()
            self.text = text

    def _position(self, text: str, i: int, encoding: str) -> tuple[int, int]:
        """lsp_position with the line number of the last line used cached: keystrokes
        mostly land on the line of the one before, and counting lines is O(document)."""
        start = text.rfind("\n", 0, i) + 1
        cached_start, line = self._line_cache
        if cached_start != start:
            line = text.count("\n", 0, start)
            self._line_cache = (start, line)
        seg = text[start:i]
        ch = len(seg) if encoding == "utf-32" or seg.isascii() else unit_len(seg, encoding)
        return line, ch

    def _with_trim(self, parts: list[tuple[int, int, str]]) -> tuple[list, int]:
        ts, n = self.pending_trim
        self.pending_trim = None
        if self.text[ts : ts + n].strip(" "):
            return parts, 0
        if not parts:
            return [(ts, ts + n, "")], 0
        i, j, t = parts[0]
        if ts + n <= i:  # the blank line is above the edit: trim first, shift the edit
            return [(ts, ts + n, ""), (i - n, j - n, t), *parts[1:]], -n
        if len(parts) == 1 and j <= ts:  # below the edit: trim last, where it now is
            shift = len(t) - (j - i)
            return [*parts, (ts + shift, ts + shift + n, "")], 0
        raise AssertionError(f"edit {parts} overlaps the auto-indent trim at {ts}")

    def track(self, region: Region) -> None:
        self.regions.append(region)

    def save(self) -> None:
        self._settle_due()
        self.session.emit("document.saved", self)
        self._settle_all("saved")

    def close(self) -> None:
        self._settle_due()
        self.session.emit("document.closed", self)
        self._settle_all("closed")
        self.session.documents.append(
            {
                "session_id": self.session.session_id,
                "user_id": self.session.user_id,
                "doc_uri": self.uri,
                "position_encoding": self.session.encoding,
                "eol": "crlf" if self.eol == "\r\n" else "lf",
                "last_version": self.version,
                "final_text": self.text,
            }
        )
