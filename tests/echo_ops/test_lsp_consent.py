"""Opting out and back in during an editor session: only what happens while opted in is
recorded, and a document recorded late starts from a snapshot of its text."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.echo_ops.test_editor_e2e import Editor, start_lsp, stop_lsp


def _collector() -> tuple[ThreadingHTTPServer, list[dict]]:
    """A stand-in for echo-ops serve's /v1/events (this test needs no model)."""
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.extend(json.loads(body)["events"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"accepted": 0}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


async def _session(url: str, ws: Path) -> None:
    from lsprotocol import types as t

    client = await start_lsp(url, ws, userId="dev-3", optOut=True)
    ed = Editor(client)
    uri = f"{ws.as_uri()}/a.py"

    def opt(out: bool) -> None:
        client.workspace_did_change_configuration(
            t.DidChangeConfigurationParams(settings={"echo": {"optOut": out}}))  # fmt: skip

    ed.open(uri, "x = 1\n")  # opted out: nothing
    ed.edit(uri, 6, 6, "y = 2\n")
    opt(False)
    ed.edit(uri, 12, 12, "z = 3\n")  # recorded from here: a snapshot of the text as it is
    ed.edit(uri, 0, 1, "w")
    ed.save(uri)
    opt(True)
    ed.edit(uri, 0, 0, "# private\n")
    ed.close(uri)
    await stop_lsp(client)


def test_opting_out_and_back_in_records_only_the_opted_in_part(tmp_path):
    server, got = _collector()
    ws = tmp_path / "ws"
    ws.mkdir()
    try:
        asyncio.run(_session(f"http://127.0.0.1:{server.server_port}", ws))
    finally:
        server.shutdown()
    assert [(e["type"], e["doc"]["version"]) for e in got] == [
        ("document.snapshot", 3), ("document.changed", 4), ("document.saved", 4)]  # fmt: skip
    assert got[0]["text"] == "x = 1\ny = 2\nz = 3\n"
    assert "private" not in json.dumps(got)
