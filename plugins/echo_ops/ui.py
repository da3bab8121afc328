"""Echo's pages inside the Airflow UI (the `echo` plugin, plugins/echo_ui.py): the report,
the Great Expectations Data Docs and the on-call runbook, served by the api-server under
`/echo` (alerts link `/echo/runbook#<dag>` unless `alerts.runbook_base_url` says otherwise).

Both need an Airflow login (the api-server's JWT, as its own pages do) and no internet:
the report inlines its JavaScript (echo_ops.report), and the Data Docs' pages load their
CDN files from the site's own pinned copies (echo_ops.quality.docs_assets).
The report is rebuilt from the published analyst copy when that copy is newer than it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from echo_ops.config import PROJECT_ROOT, Settings

RUNBOOK = PROJECT_ROOT / "docs" / "runbook.md"


def _signed_in():
    """Airflow's own authentication: the UI's session cookie or a bearer JWT."""
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def create_app(settings: Settings) -> FastAPI:
    """The pages under `settings.data_root` (the plugin passes the api-server's settings)."""
    app = FastAPI(title="Echo", dependencies=[_signed_in()])

    @app.get("/report", response_class=HTMLResponse)
    def report() -> Response:
        path = current_report(settings)
        if path is None:
            return HTMLResponse(_NOTHING.format(what="report", run="echo_daily"), status_code=404)
        return FileResponse(path, media_type="text/html")

    @app.get("/data-docs/{page:path}")
    def data_docs(page: str) -> Response:
        root = (settings.data_root / "quality" / "data_docs").resolve()
        path = (root / (page or "index.html")).resolve()
        if not path.is_relative_to(root):
            raise HTTPException(404)
        if not path.is_file():
            return HTMLResponse(_NOTHING.format(what="Data Docs page", run="echo_daily"),
                                status_code=404)  # fmt: skip
        return FileResponse(path)  # pages point at the site's own _assets (docs_assets)

    @app.get("/runbook", response_class=HTMLResponse)
    def runbook() -> Response:
        return HTMLResponse(render_runbook(RUNBOOK.read_text()))

    return app


def render_runbook(markdown: str) -> str:
    """The runbook as one HTML page whose headings carry GitHub's anchors (`#echo_daily`),
    so an alert's link lands on the same section here and in a repository browser."""
    import html
    import re

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def anchor(match: re.Match) -> str:
        text = html.unescape(re.sub(r"<[^>]+>", "", match.group(2)))
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        return f'<h{match.group(1)} id="{slug}">{match.group(2)}</h{match.group(1)}>'

    body = re.sub(r"<h([1-4])>(.*?)</h\1>", anchor, body)
    style = "body{font:15px/1.5 sans-serif;max-width:70em;margin:2em auto}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}table{border-collapse:collapse}"
    return f"<!doctype html><meta charset=utf-8><title>Echo runbook</title><style>{style}</style>{body}"


def current_report(settings: Settings) -> Path | None:
    """The report file, rebuilt first when the published copy is newer; None if no copy."""
    import duckdb

    from echo_ops.report import write_report

    published = Path(settings.storage.published_path)
    if not published.is_file():
        return None
    out = settings.data_root / "reports" / "echo_report.html"
    if not out.is_file() or out.stat().st_mtime < published.stat().st_mtime:
        con = duckdb.connect(str(published), read_only=True)
        try:
            write_report(con, out)
        finally:
            con.close()
    return out


_NOTHING = "<!doctype html><title>Echo</title><p>No {what} yet: run {run} for a day first.</p>"
