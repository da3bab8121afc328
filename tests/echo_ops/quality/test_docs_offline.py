"""Data Docs work without internet: every CDN file a page loads is served from the site's
own pinned copies, and the results table fills in headless Chromium with no network."""

from __future__ import annotations

import re
from datetime import date

from echo_ops.config import get_settings
from echo_ops.quality import run_suite
from echo_ops.quality.docs_assets import CDN_FILES, localize_data_docs
from echo_ops.quality.gx_runner import docs_dir
from tests.echo_ops.test_report import _chromium, _headless
from tests.kit import client_rows, insert

DAY = date(2026, 11, 20)
# what may stay: plain links a person can click, never a file the page loads
_LOADS = re.compile(r'(?:src|href)="(https?://[^"]+)"|url\(\'?(https?://[^\')]+)')


def _remote_loads(page: str) -> list[str]:
    found = [a or b for a, b in _LOADS.findall(page)]
    return [u for u in found if not re.match(r"https://(docs\.)?greatexpectations\.io", u)]


def test_every_page_loads_only_local_files(wh, settings):
    insert(wh, "raw.client_events", client_rows(DAY, 20))
    run_suite(wh, "raw_client", DAY, get_settings())
    site = docs_dir(settings.data_root)
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        assert not _remote_loads(page.read_text()), page
    for rel in CDN_FILES.values():
        assert (site / "_assets" / rel).is_file()
    assert localize_data_docs(site) == 0  # nothing left to rewrite: a second pass is free


def test_the_results_table_fills_in_without_network(wh, settings):
    insert(wh, "raw.client_events", client_rows(DAY, 20))
    run_suite(wh, "raw_client", DAY, get_settings())
    index = docs_dir(settings.data_root) / "index.html"
    dom = _headless(_chromium(), "--dump-dom", index.as_uri()).stdout
    # bootstrap-table (JavaScript) builds one row per validation run from the page's data
    assert len(re.findall(r"<tr[^>]*data-index=", dom)) >= 2
