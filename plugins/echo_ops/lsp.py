"""`echo-ops lsp`: a language server (stdio, pygls) an editor runs beside its usual ones.

It answers `textDocument/inlineCompletion` (LSP 3.18) through `echo-ops serve` and records
what the editor did as v1 client events, posted to the server's `/v1/events`:
- document sync (open, incremental change, save, close) -> `document.*` events, with the
  editor's own `contentChanges` and `version`, in the position encoding negotiated at
  `initialize` (`client.position_encoding`);
- each proposal shown -> `completion.shown` (its `request_id` joins the server log); each
  item carries a command, `echo.accept` (whole item), which the editor runs on accept ->
  `completion.accepted` (full). A partial accept (word, line) is seen either from the
  didChange itself (an insertion of 2+ characters that begin the proposal's untaken rest,
  where it starts, with no other edit since: what VS Code's Ctrl+Right sends, no command)
  or from the editor's binding running `echo.acceptPartial [completion_id, item_index,
  accepted_text, "word"|"line"]` (docs/editors.md), recorded once either way; a proposal
  replaced by a newer one without an accept -> `completion.rejected` (typed_over if the
  document changed since, else dismissed).

Never recorded: anything when the person opted out (`lsp.opt_out`, initializationOptions
`{"optOut": true}`, or `workspace/didChangeConfiguration` `{"echo": {"optOut": true}}`:
completions are still served, with `record: false` so the server logs nothing either);
files outside the workspace folders (served, not recorded); files matching
`lsp.secret_globs` (.env, *.pem, id_rsa, ...: neither recorded nor sent to the server).
"""

from __future__ import annotations

import fnmatch
import getpass
import hashlib
import logging
import socket
import threading
import uuid
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from echo_ops.config import Settings
from echo_ops.eventlog import rfc3339, utc_now
from echo_ops.textdoc import index_to_position, position_to_index

log = logging.getLogger(__name__)

ACCEPT, ACCEPT_PARTIAL = "echo.accept", "echo.acceptPartial"


class EventPoster:
    """Client events buffered and posted to the server's /v1/events in the background,
    at least once: a failed post keeps the batch for the next try."""

    def __init__(self, url: str, headers: dict[str, str], flush_s: float, max_events: int):
        import httpx

        self.client = httpx.Client(base_url=url, headers=headers, timeout=10.0)
        self.flush_s, self.max_events = flush_s, max_events
        self._events: list[dict] = []
        self._lock, self._posting = threading.Lock(), threading.Lock()
        self._stop = threading.Event()
        self.dropped = 0
        threading.Thread(target=self._run, name="echo-events", daemon=True).start()

    def add(self, event: dict) -> None:
        with self._lock:
            self._events.append(event)
            over = len(self._events) - self.max_events
            if over > 0:
                del self._events[:over]
                self.dropped += over

    def flush(self) -> bool:
        with self._posting:
            with self._lock:
                batch, self._events = self._events, []
            if not batch:
                return True
            try:
                self.client.post("/v1/events", json={"events": batch}).raise_for_status()
                return True
            except Exception as exc:
                with self._lock:
                    self._events[:0] = batch
                log.warning("posting %d events failed (%s); will retry", len(batch), exc)
                return False

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()


class Recorder:
    """What this editor session records, and whether a file may be recorded at all."""

    def __init__(self, settings: Settings) -> None:
        cfg = settings.lsp
        self.cfg, self.opt_out = cfg, cfg.opt_out
        self.user_id = cfg.user_id or _pseudonym()
        self.session_id = f"lsp-{uuid.uuid4().hex}"
        self.client = {"name": "unknown", "version": "unknown", "position_encoding": "utf-16"}
        self.roots: list[str] = []
        self.poster: EventPoster | None = None
        self._n = 0

    def start(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.poster = EventPoster(url, headers, self.cfg.flush_s, self.cfg.max_buffer_events)

    def is_secret(self, uri: str) -> bool:
        path = _path_of(uri)
        name = PurePosixPath(path).name
        return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(path, g)
                   for g in self.cfg.secret_globs)  # fmt: skip

    def in_workspace(self, uri: str) -> bool:
        path = _path_of(uri)
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.roots)

    def records(self, uri: str) -> bool:
        return not self.opt_out and self.in_workspace(uri) and not self.is_secret(uri)

    def emit(self, type_: str, doc: dict | None = None, **fields: Any) -> None:
        if self.poster is None or self.opt_out:  # opted out since: not even pending accepts
            return
        self._n += 1
        event = {"schema_version": 1, "event_id": f"{self.session_id}-{self._n}", "type": type_,
                 "ts": rfc3339(utc_now()), "user_id": self.user_id,
                 "session_id": self.session_id, "client": dict(self.client)}  # fmt: skip
        if doc is not None:
            event["doc"] = doc
        self.poster.add({**event, **fields})


def _pseudonym() -> str:
    """A stable pseudonymous id for this OS user on this machine (no name leaves it)."""
    return (
        "u-"
        + hashlib.sha256(f"{getpass.getuser()}@{socket.gethostname()}".encode()).hexdigest()[:16]
    )


def _path_of(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


def build_server(settings: Settings):
    """The pygls server with its features; nothing module-level, so tests build many."""
    import httpx
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    from echo_ops import __version__

    server = LanguageServer("echo-ops-lsp", __version__,
                            text_document_sync_kind=t.TextDocumentSyncKind.Incremental)  # fmt: skip
    rec = Recorder(settings)
    state: dict[str, Any] = {"url": settings.lsp.server_url, "token": settings.lsp.token,
                             "pending": {}, "http": None, "docs": {}, "opened": set()}  # fmt: skip
    server.echo = rec  # for tests and logs

    def doc_of(uri: str, version: int | None = None) -> dict:
        text_doc = server.workspace.get_text_document(uri)
        language = text_doc.language_id or "plaintext"
        doc = {"uri": uri, "version": text_doc.version if version is None else version,
               "language_id": language}  # fmt: skip
        state["docs"][uri] = doc  # didClose comes after pygls forgot the document
        return doc

    @server.feature(t.INITIALIZE)
    def initialize(ls: LanguageServer, params: t.InitializeParams) -> None:
        opts = params.initialization_options or {}
        state["url"] = opts.get("serverUrl") or state["url"]
        state["token"] = opts.get("token") or state["token"]
        rec.user_id = opts.get("userId") or rec.user_id
        rec.opt_out = bool(opts.get("optOut", rec.opt_out)) or opts.get("telemetry") is False
        info = params.client_info
        rec.client.update(name=info.name if info else "unknown",
                          version=(info.version or "unknown") if info else "unknown",
                          position_encoding=str(ls.workspace.position_encoding or "utf-16"))  # fmt: skip
        folders = [f.uri for f in params.workspace_folders or []]
        folders += [params.root_uri] if params.root_uri else []
        rec.roots = [_path_of(u) for u in folders]
        rec.start(state["url"], state["token"])
        headers = {"Authorization": f"Bearer {state['token']}"} if state["token"] else {}
        state["http"] = httpx.AsyncClient(base_url=state["url"], headers=headers,
                                          timeout=settings.lsp.timeout_s)  # fmt: skip

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: LanguageServer, params: t.DidChangeConfigurationParams) -> None:
        echo = (params.settings or {}).get("echo", {}) if isinstance(params.settings, dict) else {}
        if "optOut" in echo:
            rec.opt_out = bool(echo["optOut"])
            if rec.opt_out:  # what happens now is unrecorded: a later opt-in starts afresh
                state["opened"].clear()
                state["pending"].clear()

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: t.DidOpenTextDocumentParams) -> None:
        d = params.text_document
        if rec.records(d.uri):
            rec.emit("document.opened", doc_of(d.uri, d.version), text=d.text)
            state["opened"].add(d.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: t.DidChangeTextDocumentParams) -> None:
        d = params.text_document
        if not rec.records(d.uri):
            return
        doc = doc_of(d.uri, d.version)
        partial = [c for c in params.content_changes if getattr(c, "range", None) is not None]
        if len(partial) < len(params.content_changes) or d.uri not in state["opened"]:
            # a whole-document sync, or recording began after the open (opted back in):
            # the text as it is now, which later changes apply to
            rec.emit("document.snapshot", doc, text=ls.workspace.get_text_document(d.uri).source)
            state["opened"].add(d.uri)
            return
        changes = [{"range": _range(c.range), "text": c.text} for c in partial]
        rec.emit("document.changed", doc, changes=changes)
        source = ls.workspace.get_text_document(d.uri).source
        for cid, shown in [(c, p) for c, p in state["pending"].items() if p["doc"]["uri"] == d.uri]:
            got = infer_accept(shown, partial, d.version)
            if got is not None:  # an editor's word/line accept that sent no command
                _took(shown, got[0], d.version, source, rec.client["position_encoding"])
                rec.emit("completion.accepted", doc, completion_id=cid, item_index=0,
                         accepted_text=got[0], accept_kind=got[1])  # fmt: skip

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: t.DidSaveTextDocumentParams) -> None:
        if rec.records(params.text_document.uri):
            rec.emit("document.saved", doc_of(params.text_document.uri))

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: t.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = state["pending"]
        for cid in [c for c, p in pending.items() if p["doc"]["uri"] == uri]:
            pending.pop(cid)
        last = state["docs"].pop(uri, None)
        state["opened"].discard(uri)
        if rec.records(uri) and last is not None:
            rec.emit("document.closed", last)

    @server.feature(t.TEXT_DOCUMENT_INLINE_COMPLETION)
    async def inline_completion(ls: LanguageServer, params: t.InlineCompletionParams):
        uri, pos = params.text_document.uri, params.position
        if rec.is_secret(uri):
            return None  # a secrets file is never sent anywhere
        text_doc = ls.workspace.get_text_document(uri)
        text, doc = text_doc.source, doc_of(uri)
        enc = rec.client["position_encoding"]
        i = position_to_index(text, pos.line, pos.character, enc)
        cfg, record = settings.lsp, rec.records(uri)
        body = {"prefix": text[max(0, i - cfg.prompt_prefix_chars) : i],
                "suffix": text[i : i + cfg.prompt_suffix_chars],
                "user_id": rec.user_id, "record": record}  # fmt: skip
        try:
            resp = await state["http"].post("/v1/completions", json=body)
            resp.raise_for_status()
            answer = resp.json()
        except Exception as exc:  # the server down or slow: the editor just shows nothing
            log.warning("completion request failed: %s", exc)
            return t.InlineCompletionList(items=[])
        if record:
            _reject_stale(rec, state["pending"], uri, doc["version"])
        if not answer["shown"]:
            return t.InlineCompletionList(items=[])
        cid, insert = f"c-{uuid.uuid4().hex}", answer["completion"]
        where = t.Range(start=pos, end=pos)
        item = t.InlineCompletionItem(insert_text=insert, range=where, command=t.Command(
            title="Echo: accepted", command=ACCEPT, arguments=[cid, 0]))  # fmt: skip
        if record:
            state["pending"][cid] = {"doc": doc, "items": [insert], "accepted": False, "taken": "",
                                     "at": (pos.line, pos.character), "seen": doc["version"],
                                     "last": None}  # fmt: skip
            rec.emit("completion.shown", doc, completion_id=cid, request_id=answer["request_id"],
                     position={"line": pos.line, "character": pos.character},
                     items=[{"insert_text": insert, "range": _range(where)}])  # fmt: skip
        return t.InlineCompletionList(items=[item])

    @server.command(ACCEPT)
    def accept(ls, *args) -> None:  # no annotations: pygls evaluates them at run time
        _accepted(ls, args, "full")

    @server.command(ACCEPT_PARTIAL)
    def accept_partial(ls, *args) -> None:
        kind = str(args[3]) if len(args) > 3 else "word"
        if kind not in ("word", "line"):
            raise ValueError(f"{ACCEPT_PARTIAL}: kind must be word or line, not {kind!r}")
        _accepted(ls, args, kind)

    def _accepted(ls, args, kind: str) -> None:
        cid, index = str(args[0]), int(args[1]) if len(args) > 1 else 0
        shown = state["pending"].get(cid)
        if shown is None:
            return  # not recorded (opt-out, outside the workspace) or already closed
        uri = shown["doc"]["uri"]
        text_doc = ls.workspace.get_text_document(uri)
        if kind == "full":  # after partial accepts, the rest of the item
            text = shown["items"][index][len(shown["taken"]) :]
        else:
            text = str(args[2]) if len(args) > 2 else ""
            if shown["last"] == (text_doc.version, text):
                return  # the didChange that inserted it was already taken as this accept
        if not text:
            return
        enc = rec.client["position_encoding"]
        _took(shown, text, text_doc.version, text_doc.source, enc)
        rec.emit("completion.accepted", doc_of(uri), completion_id=cid, item_index=index,
                 accepted_text=text, accept_kind=kind)  # fmt: skip

    @server.feature(t.SHUTDOWN)
    def shutdown(ls: LanguageServer, *args) -> None:
        if rec.poster is not None:
            rec.poster.flush()

    return server


def _range(r) -> dict:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}  # fmt: skip


def infer_accept(shown: dict, changes: list, version: int) -> tuple[str, str] | None:
    """(text, "word" | "line") when this didChange is a partial accept of `shown`: the only
    change since the proposal (or since its last partial accept), an insertion exactly
    where the proposal's untaken rest starts, of 2+ characters that begin that rest but
    are not all of it (a whole accept is announced by the item's command; one typed
    character is typing)."""
    if version != shown["seen"] + 1 or len(changes) != 1:
        return None
    r, new = changes[0].range, changes[0].text
    at = shown["at"]
    if (r.start.line, r.start.character) != at or (r.end.line, r.end.character) != at:
        return None
    rest = shown["items"][0][len(shown["taken"]) :]
    if len(new) < 2 or new == rest or not rest.startswith(new):
        return None
    after = rest[len(new) :]
    return new, "line" if new.endswith("\n") or after[:1] in ("\n", "\r") else "word"


def _took(shown: dict, text: str, version: int, source: str, enc: str) -> None:
    """Advance a proposal past a partial accept: where its rest now starts, and when."""
    try:
        start = position_to_index(source, *shown["at"], enc)
        end = index_to_position(source, start + len(text), enc)
        at = (end.line, end.character)
    except ValueError:  # the editor did not insert it where shown: no more inference
        at = (-1, -1)
    shown.update(taken=shown["taken"] + text, at=at, seen=version, last=(version, text),
                 accepted=True)  # fmt: skip


def _reject_stale(rec: Recorder, pending: dict, uri: str, version: int) -> None:
    """A newer request in the same document retires the unaccepted proposals shown there."""
    for cid in [c for c, p in pending.items() if p["doc"]["uri"] == uri]:
        shown = pending.pop(cid)
        if not shown["accepted"]:
            reason = "typed_over" if version > shown["doc"]["version"] else "dismissed"
            rec.emit("completion.rejected", shown["doc"] | {"version": version},
                     completion_id=cid, reason=reason)  # fmt: skip


def run_lsp(settings: Settings) -> None:
    """Serve LSP over stdio until the editor exits; then post what is still buffered."""
    # pygls logs whole messages (document text) at INFO; an editor shows stderr to people
    logging.getLogger("pygls").setLevel(logging.WARNING)
    server = build_server(settings)
    try:
        server.start_io()
    finally:
        if server.echo.poster is not None:
            server.echo.poster.close()
