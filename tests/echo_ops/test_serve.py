"""`echo-ops serve` in process: the HTTP contract, limits, token, gate, hot reload, arms."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from echo_ops.generate import model_proposer
from echo_ops.registry import register_model, rollback, set_champion
from echo_ops.serve import CompletionService, ModelHost, create_app
from echo_ops.warehouse import open_warehouse
from tests.echo_ops.test_generate import HEAD, TAIL

LINE = {"prefix": HEAD + "    ", "suffix": "\n" + TAIL}


@pytest.fixture
def two_models(memorised_base, settings):
    """mem-a (champion, promoted first) and mem-b (a candidate), both the memorised model."""
    with open_warehouse(settings) as con:
        for model_id in ("mem-a", "mem-b"):
            register_model(con, memorised_base, kind="registered", model_id=model_id,
                           settings=settings)  # fmt: skip
        set_champion(con, "mem-a", "first", settings)
    return settings


def _client(settings, **serve):
    from fastapi.testclient import TestClient

    settings = settings.model_copy(update={"serve": settings.serve.model_copy(update=serve)})
    host = ModelHost(settings, settings.serve.pin_model)
    return TestClient(create_app(settings, host)), host


def _server_events(settings) -> list[dict]:
    root = Path(settings.storage.landing_uri) / "server"
    return [json.loads(x) for p in sorted(root.rglob("*.gz")) for x in gzip.open(p, "rt")]


def test_a_completion_is_served_gated_and_logged_as_a_v1_server_event(two_models):
    from echo_ops.contract import first_error

    client, _ = _client(two_models)
    with client:
        shown = client.post("/v1/completions", json={**LINE, "request_id": "r-1", "user_id": "u"})
        gated = client.post("/v1/completions", json={**LINE, "request_id": "r-2"})
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["shown"] and body["completion"].startswith("return os.")
    assert body["model_version"] == "mem-a" and body["arm"] == "treatment"
    events = _server_events(two_models)  # the clean shutdown flushed them
    assert [e["request_id"] for e in events] == ["r-1", "r-2"]
    assert all(first_error(e, "server") is None for e in events)
    assert events[0]["prompt"] == LINE and events[0]["completion"] == body["completion"]
    assert gated.json()["request_id"] == "r-2"


def test_the_show_gate_hides_a_proposal_but_the_log_keeps_it(two_models):
    client, _ = _client(two_models, show_min_prob=1.01)
    with client:
        body = client.post("/v1/completions", json=LINE).json()
    assert body["shown"] is False and body["completion"] == "" and body["confidence"] > 0.5
    (event,) = _server_events(two_models)
    assert event["shown"] is False and event["completion"]  # what the model said, not shown


def test_an_opted_out_request_is_served_and_not_logged(two_models):
    client, _ = _client(two_models)
    with client:
        assert client.post("/v1/completions", json={**LINE, "record": False}).json()["shown"]
    assert _server_events(two_models) == []


def test_limits_token_and_openapi(two_models):
    client, _ = _client(two_models, token="s3cret", max_request_bytes=2000)
    with client:
        assert client.post("/v1/completions", json=LINE).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        assert (
            client.post(
                "/v1/completions", json=LINE, headers={"Authorization": "Bearer x"}
            ).status_code
            == 401
        )
        assert client.post("/v1/completions", json=LINE, headers=auth).status_code == 200
        big = {**LINE, "prefix": "x" * 5000}
        assert client.post("/v1/completions", json=big, headers=auth).status_code == 413
        chunked = client.post("/v1/completions", content=iter([b"{}"]), headers=auth)
        assert chunked.status_code == 411  # no Content-Length: refused before reading
        bad_id = client.post("/v1/completions", json={**LINE, "request_id": "a b"}, headers=auth)
        assert bad_id.status_code == 422
        assert client.get("/healthz").json()["ok"]  # health needs no token
        spec = client.get("/openapi.json").json()
    assert {"/v1/completions", "/v1/events", "/v1/model"} <= set(spec["paths"])


def test_client_events_posted_to_the_collector_land_in_the_client_partition(two_models):
    client, _ = _client(two_models)
    with client:
        ok = client.post("/v1/events", json={"events": [{"event_id": "e1"}, {"event_id": "e2"}]})
    assert ok.json() == {"accepted": 2}
    root = Path(two_models.storage.landing_uri) / "client"
    (part,) = root.rglob("*.jsonl.gz")
    assert part.parent.name.startswith("ds=")
    assert [json.loads(x)["event_id"] for x in gzip.open(part, "rt")] == ["e1", "e2"]


def test_promotion_and_rollback_reach_the_champion_arm_but_not_a_pinned_control(two_models):
    settings = two_models
    champion = ModelHost(settings)
    control = ModelHost(settings, pin="mem-a")
    assert champion.refresh() and control.refresh()
    with open_warehouse(settings) as con:
        set_champion(con, "mem-b", "better", settings)
    assert champion.refresh() and not control.refresh()
    assert champion.current().model_version == "mem-b" and champion.arm == "treatment"
    assert control.current().model_version == "mem-a" and control.arm == "control"
    with open_warehouse(settings) as con:
        rollback(con, "online drop", settings)
    assert champion.refresh() and champion.current().model_version == "mem-a"
    assert not champion.refresh()  # nothing moved: nothing reloaded
    assert champion.switches == 2


def test_identical_requests_in_flight_share_one_generation(two_models):
    calls = []

    def loader(model_id, model_dir):
        proposer = model_proposer(model_dir, model_id, two_models)
        inner = proposer.propose
        proposer.propose = lambda p, s: calls.append(p) or inner(p, s)
        return proposer

    host = ModelHost(two_models, loader=loader)
    host.refresh()
    service = CompletionService(two_models, host, None)

    async def both():
        return await asyncio.gather(
            *(service.complete(LINE["prefix"], LINE["suffix"]) for _ in range(3))
        )

    answers = asyncio.run(both())
    assert len(calls) == 1 and len({a["completion"] for a in answers}) == 1
    assert len({a["request_id"] for a in answers}) == 3  # each request is still its own


def test_the_server_finds_the_champion_on_s3_without_the_warehouse(
    memorised_base, s3_server, monkeypatch
):
    """Artifacts on S3: the pointer is an S3 object, absent until a champion exists; the
    server downloads the model from it and never needs the pipeline's DuckDB file."""
    from echo_ops.config import get_settings, reset_settings_cache
    from echo_ops.registry import read_champion_pointer

    monkeypatch.setenv("ECHO_STORAGE__ARTIFACTS_URI", f"s3://{s3_server}/models")
    reset_settings_cache()
    settings = get_settings()
    assert read_champion_pointer(settings) is None
    with open_warehouse(settings) as con:
        register_model(con, memorised_base, kind="registered", model_id="mem-s3", settings=settings)
        set_champion(con, "mem-s3", "first", settings)
    pointer = read_champion_pointer(settings)
    assert pointer["model_id"] == "mem-s3" and pointer["artifact_uri"].startswith("s3://")
    settings.storage.warehouse_path.unlink()  # the server must not need it
    host = ModelHost(settings)
    assert host.refresh() and host.current().model_version == "mem-s3"
    assert (settings.data_root / "model_cache" / "mem-s3" / "config.json").is_file()


def test_a_promoted_models_calibrated_gate_is_the_one_it_is_served_with(two_models):
    """A model promoted with its own gate (train.calibrate_gate) is served with it, as the
    flywheel serves it (evaluate.serving_gate); a pinned control keeps its own; an explicit
    serve.show_min_prob overrides both."""
    from echo_ops.registry import update_metrics

    settings = two_models
    with open_warehouse(settings) as con:
        update_metrics(con, "mem-b", {"serving": {"show_min_prob": 1.01}})
        set_champion(con, "mem-b", "better, with its gate", settings)
    client, host = _client(settings)
    with client:
        hidden = client.post("/v1/completions", json=LINE).json()
        assert client.get("/v1/model").json()["show_min_prob"] == 1.01
    assert hidden["shown"] is False and hidden["confidence"] > 0.5  # mem-b's own gate hid it
    control, _ = _client(settings, pin_model="mem-a")
    with control:
        assert control.post("/v1/completions", json=LINE).json()["shown"] is True
    forced, _ = _client(settings, show_min_prob=0.0)
    with forced:
        assert forced.post("/v1/completions", json=LINE).json()["shown"] is True
