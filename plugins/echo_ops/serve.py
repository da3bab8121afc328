"""`echo-ops serve`: fill-in-the-middle completions over HTTP, logged as v1 server events.

The one serving path: a request's (prefix, suffix) goes to `echo_ops.generate`'s
`ModelProposer.propose` (the FIM prompt of `echo_ops.prompt`, token healing, the editor
stops, the token floor), exactly as the simulator's model proposer calls it, then through
the simulator's show gate (`simulate.proposers.confidence` against `show_min_prob`).

- Model: the registry's champion, found through the artifact store's champion pointer
  (`registry.read_champion_pointer`), re-read every `serve.reload_s`; a promotion or a
  rollback is served from the next request after the new model has loaded (the old one
  answers meanwhile), without a restart. `serve.pin_model` serves one model for good
  (the control arm); the log records each request's `model_version` and `arm`.
- Log: every answered request (unless the client says `record: false`, i.e. the person
  opted out) becomes one server event in `{landing}/server/ds=.../`; client events posted
  to `/v1/events` land in `{landing}/client/ds=.../` (`echo_ops.eventlog`: buffered,
  at-least-once, flushed on shutdown; the crash-loss bound is in docs/serving.md).
- Identical requests in flight (an editor re-asking at the same cursor) share one
  generation; the model runs on `serve.workers` threads.
- Limits: request bodies over `serve.max_request_bytes` (events: `max_events_bytes`) get
  413; POSTs without a Content-Length 411; with `serve.token` set, /v1 calls without the
  bearer token 401. OpenAPI at /openapi.json (Swagger UI at /docs).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from echo_ops.config import Settings
from echo_ops.eventlog import EventLog, rfc3339, utc_now

log = logging.getLogger(__name__)

REQUEST_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class CompletionRequest(BaseModel):
    prefix: str = Field(description="the document text before the cursor (a window of it)")
    suffix: str = Field("", description="the document text after the cursor")
    request_id: str | None = Field(None, pattern=REQUEST_ID, description="joins the client log")
    user_id: str | None = Field(None, max_length=512, description="pseudonymous user id")
    record: bool = Field(True, description="false: the person opted out; nothing is logged")


class CompletionResponse(BaseModel):
    request_id: str
    model_version: str
    arm: str
    completion: str = Field(description="the text to show at the cursor; empty: show nothing")
    shown: bool = Field(description="whether the proposal passed the show gate")
    confidence: float = Field(description="geometric-mean token probability of the proposal")
    latency_ms: float


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(description="v1 client events (LSP shapes)")


class ModelHost:
    """The model being served, swapped in place when the champion pointer moves."""

    def __init__(self, settings: Settings, pin: str | None = None, loader=None) -> None:
        self.settings, self.pin = settings, pin
        self.loader = loader or _load_proposer(settings)
        self._proposer = None
        self._pinned: tuple[str, Path, float | None] | None = None
        self.model_gate: float | None = None  # the served model's calibrated gate, if any
        self._stop = threading.Event()
        self.loaded_at: str | None = None
        self.switches = 0

    @property
    def arm(self) -> str:
        return self.settings.serve.arm or ("control" if self.pin else "treatment")

    def current(self):
        if self._proposer is None:
            raise RuntimeError("no model loaded yet")
        return self._proposer

    def target(self) -> tuple[str, Path, float | None]:
        """(model id, local dir, its calibrated show gate or None) to serve now."""
        from echo_ops.registry import artifact_dir, read_champion_pointer

        if self.pin:
            if self._pinned is None:
                self._pinned = _registry_model(self.pin, self.settings)
            return self._pinned
        pointer = read_champion_pointer(self.settings) or self._pointer_from_warehouse()
        model_dir = artifact_dir(pointer["model_id"], pointer["artifact_uri"], self.settings)
        return pointer["model_id"], model_dir, pointer.get("show_min_prob")

    def show_gate(self) -> float:
        """The gate for the served model: its calibrated one, else `simulate.show_min_prob`
        (evaluate.serving_gate's rule, so served and simulated people see alike)."""
        gate = self.model_gate
        return self.settings.simulate.show_min_prob if gate is None else float(gate)

    def _pointer_from_warehouse(self) -> dict[str, Any]:
        """A registry from before the pointer existed: read the champion once, write it."""
        from echo_ops.registry import write_champion_pointer
        from echo_ops.warehouse import open_warehouse

        with open_warehouse(self.settings) as con:
            pointer = write_champion_pointer(con, self.settings)
        if pointer is None:
            raise LookupError("no champion in the registry: run `echo-ops bootstrap-model` first")
        return pointer

    def refresh(self) -> bool:
        """Load the target model if it is not the one served; True when it switched."""
        model_id, model_dir, gate = self.target()
        if self._proposer is not None and self._proposer.model_version == model_id:
            return False
        proposer = self.loader(model_id, model_dir)  # the old model answers while this loads
        old = self._proposer.model_version if self._proposer is not None else None
        self._proposer, self.model_gate = proposer, gate
        self.loaded_at = rfc3339(utc_now())
        self.switches += old is not None
        log.info("serving %s (arm %s; was %s)", model_id, self.arm, old)
        return True

    def watch(self) -> None:
        """Re-read the champion pointer every `reload_s` until `stop()` (a daemon thread)."""
        if self.pin:
            return

        def loop() -> None:
            while not self._stop.wait(self.settings.serve.reload_s):
                try:
                    self.refresh()
                except Exception:  # a bad pointer or a half-copied model: keep serving
                    log.exception("model reload failed; still serving the previous model")

        threading.Thread(target=loop, name="champion-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def _registry_model(model_id: str, settings: Settings) -> tuple[str, Path, float | None]:
    """(id, local dir, calibrated gate or None) of a registry model (a pinned control arm)."""
    from echo_ops.registry import calibrated_gate_of, fetch_model_dir, get_model
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(settings, read_only=True) as con:
        record = get_model(con, model_id)
    if record is None:
        raise LookupError(f"no model {model_id!r} in the registry (`echo-ops models list`)")
    return record.model_id, fetch_model_dir(record, settings), calibrated_gate_of(record)


def _load_proposer(settings: Settings):
    def load(model_id: str, model_dir: Path):
        from echo_ops.generate import model_proposer

        return model_proposer(model_dir, model_id, settings)

    return load


class CompletionService:
    """Request -> proposal -> gate -> server event."""

    def __init__(self, settings: Settings, host: ModelHost, server_log: EventLog | None) -> None:
        self.gate = settings.serve.show_min_prob  # set: one gate for every model; None: per model
        self.host, self.server_log = host, server_log
        self.pool = ThreadPoolExecutor(max(1, settings.serve.workers), "model")
        self._inflight: dict[tuple[str, str, str], asyncio.Future] = {}

    async def complete(self, prefix: str, suffix: str, request_id: str | None = None,
                       record: bool = True, user_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        from echo_ops.simulate.proposers import Proposal, confidence

        started = time.perf_counter()
        proposer = self.host.current()
        text, logprobs = await asyncio.shield(self._generate(proposer, prefix, suffix))
        conf = confidence(Proposal(text, tuple(logprobs)))
        gate = self.host.show_gate() if self.gate is None else self.gate
        shown = bool(text) and conf >= gate
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        answer = {"request_id": request_id or f"req-{uuid.uuid4().hex}",
                  "model_version": proposer.model_version, "arm": self.host.arm,
                  "completion": text if shown else "", "shown": shown,
                  "confidence": round(conf, 6), "latency_ms": latency_ms}  # fmt: skip
        if record and self.server_log is not None:
            event = {"schema_version": 1, "request_id": answer["request_id"],
                     "ts": rfc3339(utc_now()), "model_version": proposer.model_version,
                     "prompt": {"prefix": prefix, "suffix": suffix}, "completion": text,
                     "latency_ms": latency_ms, "arm": self.host.arm, "shown": shown,
                     "confidence": answer["confidence"]}  # fmt: skip
            self.server_log.append(event | ({"user_id": user_id} if user_id else {}))
        return answer

    def _generate(self, proposer, prefix: str, suffix: str) -> asyncio.Future:
        """One generation per distinct (model, prefix, suffix) in flight."""
        key = (proposer.model_version, prefix, suffix)
        fut = self._inflight.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(self.pool, proposer.propose, prefix, suffix)
            self._inflight[key] = fut
            fut.add_done_callback(lambda _f: self._inflight.pop(key, None))
        return fut


class BodyLimit:
    """ASGI middleware: refuse a POST body over its path's limit before reading it."""

    def __init__(self, app, limits: dict[str, int], default: int) -> None:
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            limit = self.limits.get(scope["path"], self.default)
            size = headers.get(b"content-length")
            status = 411 if size is None else 413 if int(size) > limit else 0
            if status:
                detail = ("Content-Length required" if status == 411
                          else f"request body over {limit} bytes")  # fmt: skip
                from starlette.responses import JSONResponse

                await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings, host: ModelHost, *, landing: bool = True):
    """The FastAPI app; with `landing`, its event logs start and stop with it."""
    from fastapi import Depends, FastAPI, Header, HTTPException

    from echo_ops import __version__

    cfg = settings.serve
    logs = _event_logs(settings) if landing else {}
    service = CompletionService(settings, host, logs.get("server"))

    @asynccontextmanager
    async def lifespan(_app):
        for event_log in logs.values():
            event_log.start()
        if host._proposer is None:
            await asyncio.get_running_loop().run_in_executor(None, host.refresh)
        host.watch()
        yield
        host.stop()
        service.pool.shutdown(wait=True)
        for event_log in logs.values():
            event_log.close()  # clean shutdown: nothing received is left in memory

    async def check_token(authorization: str | None = Header(default=None)) -> None:
        if cfg.token and not hmac.compare_digest(
            (authorization or "").encode(), f"Bearer {cfg.token}".encode()
        ):
            raise HTTPException(401, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    app = FastAPI(title="Echo completion server", version=__version__, lifespan=lifespan,
                  description="Fill-in-the-middle completions from the registry's champion; "
                  "every request and client event lands in the v1 landing zone.")  # fmt: skip
    auth = [Depends(check_token)]

    @app.post("/v1/completions", response_model=CompletionResponse, dependencies=auth)
    async def completions(req: CompletionRequest) -> dict[str, Any]:
        return await service.complete(req.prefix, req.suffix, req.request_id, req.record,
                                      req.user_id)  # fmt: skip

    @app.post("/v1/events", dependencies=auth)
    async def events(batch: EventBatch) -> dict[str, int]:
        if "client" not in logs:
            raise HTTPException(503, "this server does not collect client events")
        for event in batch.events:
            logs["client"].append(event)
        return {"accepted": len(batch.events)}

    @app.get("/v1/model", dependencies=auth)
    async def model() -> dict[str, Any]:
        current = host.current()
        return {"model_version": current.model_version, "arm": host.arm, "pinned": bool(host.pin),
                "loaded_at": host.loaded_at, "switches": host.switches,
                "show_min_prob": host.show_gate() if service.gate is None else service.gate}  # fmt: skip

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        ready = host._proposer is not None
        return {"ok": ready, "events": {k: v.stats() for k, v in logs.items()}}

    return BodyLimit(app, {"/v1/events": cfg.max_events_bytes}, cfg.max_request_bytes)


def _event_logs(settings: Settings) -> dict[str, EventLog]:
    cfg = settings.serve
    return {
        source: EventLog(settings.storage.landing_uri, source, flush_s=cfg.flush_s,
                         flush_events=cfg.flush_events, max_buffer_events=cfg.max_buffer_events,
                         store=settings.storage)
        for source in ("server", "client")
    }  # fmt: skip


def run_server(settings: Settings) -> None:
    """Load the model, then serve until SIGINT/SIGTERM (which flushes the event logs)."""
    import uvicorn

    cfg = settings.serve
    host = ModelHost(settings, cfg.pin_model)
    host.refresh()  # fail before binding the port when there is no model to serve
    app = create_app(settings, host)
    uvicorn.run(
        app, host=cfg.host, port=cfg.port, log_level="warning", timeout_graceful_shutdown=10
    )
