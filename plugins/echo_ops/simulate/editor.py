"""The simulated editor: documents changed by LSP edits, each emitted as a v1 event.

A `Session` is one editor process of one person (its clock, client and event counter);
a `SimDoc` is one open document. Every change goes through `SimDoc.change`, which emits
the `document.changed` event, applies it to the text and moves every live completion
region (truth.Region), so the truth follows exactly what the events say.
"""

from __future__ import annotations

from datetime import date, timedelta

from echo_ops.simulate.truth import Region
from echo_ops.textdoc import unit_len

_EPOCH = date(1970, 1, 1)
_DAY_MS = 86_400_000


class _Clock:
    """RFC 3339 UTC with milliseconds, cheaply: the date part is cached per day."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def fmt(self, ms: int) -> str:
        day, rest = divmod(ms, _DAY_MS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (_EPOCH + timedelta(days=day)).isoformat()
        s, milli = divmod(rest, 1000)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return f"{prefix}T{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"


def day_start_ms(day: date) -> int:
    return (day - _EPOCH).days * _DAY_MS


def lsp_position(text: str, i: int, encoding: str) -> dict[str, int]:
    """LSP position of str index `i` (the simulator writes no lone CR, so '\\n' ends lines)."""
    start = text.rfind("\n", 0, i) + 1
    seg = text[start:i]
    ch = len(seg) if encoding == "utf-32" or seg.isascii() else unit_len(seg, encoding)
    return {"line": text.count("\n", 0, start), "character": ch}


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
        self.user_id, self.session_id, self.client = user_id, session_id, client
        self.encoding = client.get("position_encoding", "utf-16")
        self.skew_ms, self.now = skew_ms, start_ms
        self.quiet_ms, self.horizon_ms = int(quiet_s * 1000), int(horizon_s * 1000)
        self.events: list[tuple[int, dict]] = []  # (true ms, event)
        self.server: list[tuple[int, dict]] = []  # (true ms, server log record)
        self.truth: list[Region] = []
        self.documents: list[dict] = []
        self._seq = 0
        self._clock = _Clock()

    def server_ts(self, ms: int) -> str:
        return self._clock.fmt(ms)  # the server's clock is right; clients' are skewed

    def wait(self, ms: int) -> None:
        self.now += max(1, ms)

    def emit(self, type_: str, doc: SimDoc | None = None, **fields) -> dict:
        self._seq += 1
        event = {
            "schema_version": 1,
            "event_id": f"{self.session_id}.{self._seq:x}",
            "type": type_,
            "ts": self._clock.fmt(self.now + self.skew_ms),
            **self.static,
        }
        if doc is not None:
            event["doc"] = {"uri": doc.uri, "version": doc.version, "language_id": doc.language_id}
        event.update(fields)
        self.events.append((self.now, event))
        return event


class SimDoc:
    """An open document: its text, LSP version and the regions still settling in it."""

    def __init__(
        self, session: Session, uri: str, text: str, eol: str, language_id: str = "python"
    ):
        self.session, self.uri, self.text, self.eol = session, uri, text, eol
        self.language_id, self.version = language_id, 1
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
            start = lsp_position(text, i, enc)
            end = start if j == i else lsp_position(text, j, enc)
            changes.append({"range": {"start": start, "end": end}, "text": t})
            for r in self.regions:
                r.apply(i, j, t, text, now)
            text = text[:i] + t + text[j:]
        self.text = text
        self.version += 1
        self.session.emit("document.changed", self, changes=changes)
        return shift

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
