"""Real alert receivers on loopback for tests: an SMTP server and a webhook (HTTP) endpoint.

Both are small stdlib servers in a thread that keep what they receive. The SMTP one speaks
enough of RFC 5321 for smtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); nothing is
mocked on the sending side.
"""

from __future__ import annotations

import json
import socketserver
import threading
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _SMTPHandler(socketserver.StreamRequestHandler):
    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 localhost echo-test SMTP")
        sender, rcpts = None, []
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 localhost")
            elif verb == "MAIL":
                sender, rcpts = line.decode().split(":", 1)[1].strip(), []
                self._say("250 OK")
            elif verb == "RCPT":
                rcpts.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.mails.append((sender, rcpts, message_from_bytes(data)))
                self._say("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")


class SMTPReceiver(socketserver.ThreadingTCPServer):
    daemon_threads = allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.mails: list[tuple[str, list[str], Message]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append(
            {"path": self.path, "type": self.headers.get("Content-Type"), "json": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.posts: list[dict] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/echo"


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alert_env(smtp: SMTPReceiver, hook: WebhookReceiver) -> dict[str, str]:
    """ECHO_* settings that send alerts to these receivers."""
    return {
        "ECHO_ALERTS__SMTP_HOST": "127.0.0.1",
        "ECHO_ALERTS__SMTP_PORT": str(smtp.port),
        "ECHO_ALERTS__SMTP_TO": '["oncall@example.com"]',
        "ECHO_ALERTS__WEBHOOK_URL": hook.url,
        "ECHO_ALERTS__RUNBOOK_BASE_URL": "https://git.example.com/echo/blob/main/docs/runbook.md",
        "ECHO_ALERTS__TIMEOUT_S": "5",
    }
