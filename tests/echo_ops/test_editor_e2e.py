"""End to end in front of an editor: a real LSP client process (pygls's LanguageClient)
drives `echo-ops lsp` over stdio, which asks `echo-ops serve` on loopback; the landing zone
they write goes through the real ingest/align/extract and must give back exactly what the
client did. A promotion in the middle changes the served model without a restart."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from echo_ops.align import align_day
from echo_ops.contract import first_error
from echo_ops.extract import extract_day
from echo_ops.ingest import ingest_day
from echo_ops.registry import register_model, set_champion
from echo_ops.textdoc import make_change
from echo_ops.warehouse import open_warehouse
from tests.echo_ops.test_generate import HEAD, TAIL

REPO = Path(__file__).resolve().parents[2]
LINE = (HEAD + "    ", "\n" + TAIL)  # an empty line the memorised model writes confidently


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The test's settings (its ECHO_DATA_ROOT) for a child process, this checkout first."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins"), "OMP_NUM_THREADS": "1"}
    return {**env, "ECHO_TRAIN__DEVICE": "cpu", **extra}


def start_serve(port: int, log: Path, *args: str, **env: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "echo_ops", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, env=child_env(**env), stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"echo-ops serve exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["ok"]:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"echo-ops serve did not come up: {log.read_text()}")


def stop(proc: subprocess.Popen) -> bool:
    """SIGTERM, as a service manager stops it: a clean shutdown flushes the event logs.
    uvicorn re-raises the signal once shut down, so the exit status is -SIGTERM."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60) in (0, -signal.SIGTERM)
    except subprocess.TimeoutExpired:
        proc.kill()
        return False


class Editor:
    """The client side of an editor: its own copy of each document, LSP versions, and
    changes in the negotiated position encoding (utf-8 here)."""

    def __init__(self, client, encoding: str = "utf-8") -> None:
        self.client, self.enc = client, encoding
        self.text: dict[str, str] = {}
        self.version: dict[str, int] = {}

    def open(self, uri: str, text: str) -> None:
        from lsprotocol import types as t

        self.text[uri], self.version[uri] = text, 1
        self.client.text_document_did_open(t.DidOpenTextDocumentParams(
            t.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))  # fmt: skip

    def edit(self, uri: str, i: int, j: int, new: str) -> None:
        from lsprotocol import types as t

        change = make_change(self.text[uri], i, j, new, self.enc)
        self.text[uri] = self.text[uri][:i] + new + self.text[uri][j:]
        self.version[uri] += 1
        r = change["range"]
        rng = t.Range(t.Position(**r["start"]), t.Position(**r["end"]))
        self.client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(uri=uri, version=self.version[uri]),
            [t.TextDocumentContentChangePartial(range=rng, text=new)]))  # fmt: skip

    async def request(self, uri: str, i: int):
        from lsprotocol import types as t

        change = make_change(self.text[uri], i, i, "", self.enc)
        pos = t.Position(**change["range"]["start"])
        params = t.InlineCompletionParams(
            context=t.InlineCompletionContext(trigger_kind=t.InlineCompletionTriggerKind.Automatic),
            text_document=t.TextDocumentIdentifier(uri=uri), position=pos)  # fmt: skip
        result = await self.client.text_document_inline_completion_async(params)
        if result is None:
            return []
        return result.items if hasattr(result, "items") else list(result)

    async def run(self, command, *override) -> None:
        from lsprotocol import types as t

        args = list(command.arguments) + list(override)
        await self.client.workspace_execute_command_async(
            t.ExecuteCommandParams(command=command.command, arguments=args))  # fmt: skip

    def save(self, uri: str) -> None:
        from lsprotocol import types as t

        self.client.text_document_did_save(
            t.DidSaveTextDocumentParams(t.TextDocumentIdentifier(uri=uri)))  # fmt: skip

    def close(self, uri: str) -> None:
        from lsprotocol import types as t

        self.client.text_document_did_close(
            t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri=uri)))  # fmt: skip


async def start_lsp(url: str, workspace: Path, **options):
    from lsprotocol import types as t
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("test-editor", "1.0")
    await client.start_io(sys.executable, "-m", "echo_ops", "lsp", env=child_env())
    utf8 = t.GeneralClientCapabilities(position_encodings=[t.PositionEncodingKind.Utf8])
    await client.initialize_async(t.InitializeParams(
        capabilities=t.ClientCapabilities(general=utf8),
        client_info=t.ClientInfo(name="test-editor", version="1.0"),
        root_uri=workspace.as_uri(),
        workspace_folders=[t.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        initialization_options={"serverUrl": url, **options}))  # fmt: skip
    client.initialized(t.InitializedParams())
    return client


async def stop_lsp(client) -> None:
    await client.shutdown_async(None)  # the language server posts what it buffered
    client.exit(None)
    await client.stop()


def wait_for_model(url: str, model_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/v1/model").json()["model_version"] == model_id:
            return
        time.sleep(0.2)
    raise AssertionError(f"the server never switched to {model_id}")


async def editor_session(url: str, ws: Path, outside: Path, settings, model_dir: Path) -> dict:
    """What a person does; returns, per document, what extraction must find."""
    client = await start_lsp(url, ws, userId="dev-1")
    ed = Editor(client)
    a, b, c = (f"{ws.as_uri()}/{n}.py" for n in "abc")
    start = len(LINE[0])

    ed.open(a, "".join(LINE))  # accept whole, then refine inside it (non-ASCII: utf-8 counts)
    (item,) = await ed.request(a, start)
    proposal = refined = item.insert_text
    assert "ROOT" in proposal and "name)" in proposal, proposal
    ed.edit(a, start, start, proposal)
    await ed.run(item.command)
    for old, new in (("ROOT", "BÄSE"), ("name)", "nom)")):  # the second after the first's Ä
        at = refined.rindex(old)
        ed.edit(a, start + at, start + at + len(old), new)
        refined = refined[:at] + new + refined[at + len(old) :]
    ed.save(a)

    ed.open(b, "".join(LINE))  # two partial accepts: a word as VS Code sends it (no command,
    (item,) = await ed.request(b, start)  # seen in the didChange), then the next chunk with
    word = item.insert_text.split(" ")[0]  # the editor's binding running echo.acceptPartial
    ed.edit(b, start, start, word)
    rest = item.insert_text[len(word) :]
    chunk = rest[: rest.index(".") + 1]
    ed.edit(b, start + len(word), start + len(word), chunk)
    await ed.run(_partial(item.command), chunk, "word")
    ed.save(b)

    ed.open(f"{ws.as_uri()}/.env", "API_KEY=")  # a secrets file: never sent, never recorded
    assert await ed.request(f"{ws.as_uri()}/.env", 8) == []
    ed.edit(f"{ws.as_uri()}/.env", 8, 8, "s3cr3t-value")
    ed.open(f"{outside.as_uri()}/x.py", "".join(LINE))  # outside the workspace: not recorded
    await ed.request(f"{outside.as_uri()}/x.py", start)

    with open_warehouse(settings) as con:  # promotion while everything runs
        register_model(con, model_dir, kind="registered", model_id="mem-b", settings=settings)
        set_champion(con, "mem-b", "promoted during the editor test", settings)
    wait_for_model(url, "mem-b")

    ed.open(c, "".join(LINE))  # served by the new champion, accepted and kept
    (item,) = await ed.request(c, start)
    ed.edit(c, start, start, item.insert_text)
    await ed.run(item.command)
    ed.close(c)
    ed.close(a)
    await stop_lsp(client)

    quiet = await start_lsp(url, ws, userId="dev-2", optOut=True)  # served, never recorded
    ed = Editor(quiet)
    ed.open(f"{ws.as_uri()}/d.py", "".join(LINE))
    (item,) = await ed.request(f"{ws.as_uri()}/d.py", start)
    ed.edit(f"{ws.as_uri()}/d.py", start, start, item.insert_text)
    await ed.run(item.command)
    await stop_lsp(quiet)
    return {
        a: ("accepted_refined", refined, "mem-a"),
        b: ("partial_accepted", word + chunk, "mem-a"),
        c: ("accepted_kept", item.insert_text, "mem-b"),
    }


def _partial(command):
    from lsprotocol import types as t

    return t.Command(title=command.title, command="echo.acceptPartial", arguments=command.arguments)


def landing_events(landing: Path, source: str) -> list[dict]:
    out = []
    for path in sorted((landing / source).rglob("*.jsonl.gz")):
        out += [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    return out


@pytest.mark.slow
def test_an_lsp_session_lands_v1_logs_that_extract_to_what_the_editor_did(
    memorised_base, settings, tmp_path
):
    with open_warehouse(settings) as con:
        register_model(con, memorised_base, kind="bootstrap", model_id="mem-a", settings=settings)
        set_champion(con, "mem-a", "first", settings)
    ws, outside = tmp_path / "ws", tmp_path / "elsewhere"
    ws.mkdir(), outside.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = start_serve(port, tmp_path / "serve.log", ECHO_SERVE__RELOAD_S="0.3",
                        ECHO_SERVE__FLUSH_S="0.5")  # fmt: skip
    try:
        expected = asyncio.run(editor_session(url, ws, outside, settings, memorised_base))
    finally:
        stopped = stop(serve)
    assert stopped, (tmp_path / "serve.log").read_text()

    landing = Path(settings.storage.landing_uri)
    client, server = landing_events(landing, "client"), landing_events(landing, "server")
    for source, events in (("client", client), ("server", server)):
        assert [first_error(e, source) for e in events] == [None] * len(events)
    assert {e["client"]["position_encoding"] for e in client} == {"utf-8"}
    assert {e["user_id"] for e in client} == {"dev-1"}, "the opted-out dev-2 left no trace"
    uris = {e["doc"]["uri"] for e in client if "doc" in e}
    assert uris == set(expected), "secrets files and files outside the workspace stay out"
    assert all("s3cr3t" not in json.dumps(e) for e in client + server)
    assert sorted(e["model_version"] for e in server) == ["mem-a", "mem-a", "mem-b"]
    kinds = [e["accept_kind"] for e in client if e["type"] == "completion.accepted"]
    assert sorted(kinds) == ["full", "full", "word", "word"], "each partial accept once"

    days = sorted({p.name[3:] for p in (landing / "client").iterdir()})
    with open_warehouse(settings) as con:
        for day in map(date.fromisoformat, days):
            ingest_day(con, day, settings)
            align_day(con, day, settings)
            extract_day(con, day, settings)
        rows = con.execute(
            "select doc_uri, outcome, final_text, model_version from staging.refinements"
        ).fetchall()
    assert {uri: (o, f, m) for uri, o, f, m in rows} == expected
    assert len(rows) == len(expected)


def test_serve_refuses_without_a_champion(tmp_path):
    """No model, no port: the server says why and exits 1 before binding."""
    proc = subprocess.run([sys.executable, "-m", "echo_ops", "serve", "--port", str(free_port())],
                          env=child_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert "no champion" in proc.stderr
