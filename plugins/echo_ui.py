"""The `echo` Airflow plugin: Echo's report, the Data Docs and the runbook in the Airflow UI.

Menu entries (Browse) open them in the UI's frame; the pages come from a FastAPI app the
api-server mounts at /echo (echo_ops.ui), behind Airflow's own login.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from echo_ops.config import get_settings
from echo_ops.ui import create_app

REPORT_PATH = "echo/report"
DATA_DOCS_PATH = "echo/data-docs/index.html"
RUNBOOK_PATH = "echo/runbook"


class EchoPlugin(AirflowPlugin):
    name = "echo"
    fastapi_apps = [
        {
            "app": create_app(get_settings()),
            "url_prefix": "/echo",
            "name": "Echo report, Data Docs and runbook",
        }
    ]
    external_views = [
        {"name": "Echo report", "href": REPORT_PATH, "destination": "nav",
         "url_route": "echo-report", "category": "browse"},
        {"name": "Data quality (Data Docs)", "href": DATA_DOCS_PATH, "destination": "nav",
         "url_route": "echo-data-docs", "category": "browse"},
        {"name": "Echo on-call runbook", "href": RUNBOOK_PATH, "destination": "nav",
         "url_route": "echo-runbook", "category": "browse"},
    ]  # fmt: skip
