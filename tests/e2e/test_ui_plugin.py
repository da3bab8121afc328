"""The `echo` plugin on a running api-server (loopback): the report and the Data Docs inside
the Airflow UI, behind Airflow's login, listed in the UI's navigation."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import date

import pytest

from echo_ops.config import get_settings
from echo_ops.quality import run_suite
from tests.e2e.conftest import AIRFLOW
from tests.echo_ops.test_report import published  # noqa: F401  (a published copy with data)
from tests.kit import client_rows, insert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def api_server(airflow_env, published, settings):  # noqa: F811
    from echo_ops.warehouse import connect

    con = connect(settings)  # Data Docs: one suite run on a small day
    from tests.kit import create_tables

    create_tables(con)
    insert(con, "raw.client_events", client_rows(date(2026, 11, 20), 10))
    run_suite(con, "raw_client", date(2026, 11, 20), get_settings())
    con.close()
    port = _free_port()
    passwords = settings.data_root / "passwords.json"
    passwords.write_text(json.dumps({"oncall": "s3cret"}))
    env = {**airflow_env, "ECHO_DATA_ROOT": str(settings.data_root),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "oncall:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)}  # fmt: skip
    # its log goes to a file: a pipe nobody reads fills up and stalls the server
    log = settings.data_root / "api-server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while _get_or_none(f"{base}/api/v2/monitor/health") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"api-server did not start: {tail}")
            time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)[0]
    except OSError:
        return None


def test_report_and_data_docs_inside_the_airflow_ui(api_server):
    base = api_server
    assert _get(f"{base}/echo/report")[0] == 401  # Airflow's login guards the pages
    login = urllib.request.Request(
        f"{base}/auth/token", data=json.dumps({"username": "oncall", "password": "s3cret"}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(login, timeout=30) as r:
        token = json.loads(r.read())["access_token"]
    status, page = _get(f"{base}/echo/report", token)
    assert status == 200 and "Acceptance by day and arm" in page and "Plotly.newPlot" in page
    status, docs = _get(f"{base}/echo/data-docs/index.html", token)
    assert status == 200 and "_assets/bootstrap/dist/css/bootstrap.min.css" in docs
    status, css = _get(f"{base}/echo/data-docs/_assets/bootstrap/dist/css/bootstrap.min.css", token)
    assert status == 200 and "Bootstrap v4.3.1" in css
    assert _get(f"{base}/echo/data-docs/../../etc/passwd", token)[0] == 404
    assert _get(f"{base}/echo/runbook")[0] == 401  # alerts link here (alerts.runbook_base_url)
    status, runbook = _get(f"{base}/echo/runbook", token)
    assert status == 200 and 'id="echo_daily"' in runbook and 'id="alerts"' in runbook
    status, plugins = _get(f"{base}/api/v2/plugins", token)
    echo = [p for p in json.loads(plugins)["plugins"] if p["name"] == "echo"]
    assert echo, plugins
    views = {v["name"]: v for v in echo[0]["external_views"]}
    assert views["Echo report"]["href"] == "echo/report"
    assert views["Data quality (Data Docs)"]["href"] == "echo/data-docs/index.html"
    assert views["Echo on-call runbook"]["href"] == "echo/runbook"
