"""Alerts, the deadline and per-run overrides through real Airflow, to real receivers on
loopback (an SMTP server and a webhook endpoint, tests/alertkit.py).

- A day with 5% corrupt lines: `airflow dags test echo_daily DAY --conf '{"overrides": ...}'`
  with a raised quarantine threshold ingests it and every task log shows the overrides;
  the same day without them then fails at ingest (the override was for that run only), and
  the failure reaches both receivers with DAG, task, day, error line, log and runbook URLs.
  (Tasks after ingest are marked done: the whole DAG runs in tests/e2e/test_echo_daily.)
- echo_daily's Deadline Alert, through Airflow's own DAG sync, run creation, missed-deadline
  handling and the triggerer's CallbackTrigger (tests/e2e/deadline_probe.py), reaches both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from echo_ops.config import Settings
from tests.alertkit import alert_env
from tests.e2e.conftest import dags_test
from tests.e2e.test_echo_daily import _state

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY, LATE_DAY = "2026-11-02", "2026-11-20"
SMALL = {"ECHO_SIMULATE__USERS": "2", "ECHO_SIMULATE__SESSIONS_PER_USER": "1"}
RUNBOOK = "https://git.example.com/echo/blob/main/docs/runbook.md"
UP_TO_INGEST = "(?!(resolve_partition|init_warehouse|import_assistant_logs|ingest)$).*"


def test_overrides_change_one_run_and_a_failure_reaches_on_call(airflow_env, receivers, tmp_path):
    from echo_ops.simulate import simulate_days

    smtp, hook = receivers
    smtp.mails.clear(), hook.posts.clear()
    noisy = Settings(data_root=tmp_path, simulate={"users": 2, "sessions_per_user": 1,
                                                    "corrupt_rate": 0.05})  # fmt: skip
    simulate_days(date.fromisoformat(DAY), 1, workers=1, settings=noisy)
    env = {**SMALL, **alert_env(smtp, hook)}

    overrides = {"extract.max_quarantine_rate": 0.5}
    # up to ingest for real; the rest is marked done (the full DAG is tests/e2e/test_echo_daily)
    relaxed = dags_test(airflow_env, "echo_daily", DAY, tmp_path, {"overrides": overrides},
                        UP_TO_INGEST, **env)  # fmt: skip
    out = relaxed.stdout + relaxed.stderr
    # the run itself cannot finish: the mapped extract_shard expands from plan_extract's
    # result, which a task marked done does not have; what matters is that ingest passed
    assert "ECHO FAILURE" not in out, out[-4000:]
    with duckdb.connect(
        str(Settings(data_root=tmp_path).storage.warehouse_path), read_only=True
    ) as con:
        loaded = con.execute(
            "select count(*) from raw.client_events where ds = ?", [DAY]
        ).fetchone()
    assert loaded[0] > 0, out[-4000:]  # the day is in: ingest passed under the raised threshold
    assert out.count('ECHO OVERRIDES for this run only: {"extract.max_quarantine_rate": 0.5}') >= 3
    assert hook.posts == [] and smtp.mails == []  # nothing failed, nobody paged

    strict = dags_test(airflow_env, "echo_daily", DAY, tmp_path, None, UP_TO_INGEST, **env)
    out = strict.stdout + strict.stderr
    assert _state(strict) == "failed" and "ECHO OVERRIDES" not in out
    line = next(ln for ln in out.splitlines() if "ECHO FAILURE" in ln)
    assert "ECHO FAILURE dag=echo_daily task=ingest error=AirflowFailException(" in line, line
    assert "IngestError" in line and f"runbook: {RUNBOOK}#echo_daily" in out
    (post,) = [p["json"] for p in hook.posts]
    assert (post["dag_id"], post["task_id"], post["day"]) == ("echo_daily", "ingest", DAY)
    assert post["error"].startswith("AirflowFailException: IngestError: ")
    assert "max_quarantine_rate" in post["error"] and "\n" not in post["error"]
    assert post["log_url"].startswith("http://localhost:8080/dags/echo_daily/runs/")
    assert "/tasks/ingest?try_number=1" in post["log_url"]
    assert post["runbook_url"] == f"{RUNBOOK}#echo_daily"
    (_, rcpts, mail) = smtp.mails[0]
    text = mail.get_payload(decode=True).decode()
    assert rcpts == ["oncall@example.com"] and mail["Subject"].endswith(f"ingest failed for {DAY}")
    for part in (post["error"], post["log_url"], post["runbook_url"]):
        assert part in text


def test_a_misspelled_override_fails_loudly_naming_the_valid_keys(airflow_env, tmp_path):
    proc = dags_test(
        airflow_env, "echo_daily", DAY, tmp_path, {"overrides": {"extract.max_quarantin": 1}}
    )
    out = proc.stdout + proc.stderr
    assert _state(proc) != "success" or proc.returncode != 0
    assert "extract.max_quarantin" in out and "extract.max_quarantine_rate" in out


def test_the_deadline_alert_reaches_on_call(airflow_env, receivers, tmp_path):
    smtp, hook = receivers
    smtp.mails.clear(), hook.posts.clear()
    env = {**airflow_env, "ECHO_DATA_ROOT": str(tmp_path), **alert_env(smtp, hook),
           "ECHO_ALERTS__DAILY_DEADLINE_HOUR": "7"}  # fmt: skip
    probe = Path(__file__).with_name("deadline_probe.py")
    # a day no other e2e test runs: a run of that logical date must not exist yet
    proc = subprocess.run([sys.executable, str(probe), LATE_DAY], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["deadline_time"] == "2026-11-21T07:00:00+00:00"  # 07:00 UTC the day after
    assert result["path"] == "echo_ops.pipeline.echo_daily_late"
    assert result["states"] == ["running", "success"], result
    (post,) = [p["json"] for p in hook.posts]
    assert post["kind"] == "late" and (post["dag_id"], post["day"]) == ("echo_daily", LATE_DAY)
    assert "not finished by 2026-11-21 07:00:00+00:00" in post["error"]
    assert post["runbook_url"] == f"{RUNBOOK}#echo_daily"
    assert smtp.mails[0][2]["Subject"] == f"[echo] echo_daily is late for {LATE_DAY}"
