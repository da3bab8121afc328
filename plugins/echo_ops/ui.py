"""Echo's pages inside the Airflow UI (the `echo` plugin, plugins/echo_ui.py): the report
and the Great Expectations Data Docs, served by the api-server under `/echo`.

Both need an Airflow login (the api-server's JWT, as its own pages do) and no internet:
the report inlines its JavaScript (echo_ops.report), and the Data Docs' pages load their
CDN files from the site's own pinned copies (echo_ops.quality.docs_assets).
The report is rebuilt from the published analyst copy when that copy is newer than it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from echo_ops.config import Settings


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

    return app


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
