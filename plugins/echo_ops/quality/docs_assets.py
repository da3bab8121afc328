"""Data Docs that work without internet: the CDN files GX's pages load, from pinned packages.

GX renders Data Docs pages that load Bootstrap, jQuery, Popper, bootstrap-table,
Font Awesome and Vega from public CDNs; on a machine without internet they show an
unstyled page with an empty results table. After every Data Docs build,
`localize_data_docs` copies the same versions (include/web/package.json, installed by
`make venv` with `npm ci`) into the site's `_assets/` and points the pages at them with
relative links, so the site works opened from disk and served by the Airflow UI plugin.
GX's hosted logos (and the tracking parameters on them) are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from echo_ops.config import WEB_ASSETS_DIR

# CDN URL -> file in node_modules (the same version; bootstrap-table's filter-control CSS
# is referenced at 1.19.0 and served from 1.19.1, the version of its JavaScript)
CDN_FILES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap/dist/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper.js/dist/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "@fortawesome/fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}  # fmt: skip
# Font Awesome's CSS loads its fonts from ../webfonts/, relative to itself.
EXTRA_DIRS = ("@fortawesome/fontawesome-free/webfonts",)
ASSETS = "_assets"
_STAMP = ".localized"
_CDN = re.compile("|".join(re.escape(u) for u in sorted(CDN_FILES, key=len, reverse=True)))
_HOSTED_IMG = re.compile(r'<img[^>]*src="https://great-expectations-web-assets[^"]*"[^>]*>')
_HOSTED_CSS_IMG = re.compile(r"url\('https://great-expectations-web-assets[^']*'\)")


class MissingWebAssets(FileNotFoundError):
    """The pinned web assets are not installed (include/web/node_modules)."""


def localize_data_docs(site: Path, web_dir: Path = WEB_ASSETS_DIR) -> int:
    """Copy the assets into `site`/_assets (once) and rewrite pages built since the last
    call to use them; returns how many pages were rewritten."""
    site = Path(site)
    if not site.is_dir():
        return 0
    assets = site / ASSETS
    if not (assets / _STAMP).exists():
        _copy_assets(web_dir, assets)
    since = (assets / _STAMP).stat().st_mtime_ns
    rewritten = 0
    for page in site.rglob("*.html"):
        if ASSETS in page.relative_to(site).parts or page.stat().st_mtime_ns < since:
            continue
        text = page.read_text(encoding="utf-8")
        local = offline_page(text, os.path.relpath(assets, page.parent))
        if local != text:
            page.write_text(local, encoding="utf-8")
            rewritten += 1
    os.utime(assets / _STAMP)
    return rewritten


def offline_page(text: str, assets_href: str) -> str:
    """`text` with every known CDN URL pointing at `assets_href`, GX's hosted logos removed."""
    text = _CDN.sub(lambda m: f"{assets_href}/{CDN_FILES[m.group(0)]}", text)
    return _HOSTED_CSS_IMG.sub("none", _HOSTED_IMG.sub("", text))


def _copy_assets(web_dir: Path, assets: Path) -> None:
    missing = [rel for rel in CDN_FILES.values() if not (web_dir / rel).is_file()]
    if missing:
        raise MissingWebAssets(
            f"Data Docs assets missing under {web_dir} ({missing[0]} and {len(missing) - 1} "
            "more): run `make venv` (it runs `npm ci --ignore-scripts` in include/web)"
        )
    for rel in CDN_FILES.values():
        (assets / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(web_dir / rel, assets / rel)
    for rel in EXTRA_DIRS:
        shutil.copytree(web_dir / rel, assets / rel, dirs_exist_ok=True)
    (assets / _STAMP).write_text("pinned by include/web/package.json\n")
    os.utime(assets / _STAMP, ns=(0, 0))  # every page existing now gets rewritten once
