"""`echo-ops report`: one self-contained HTML file whose every plot draws with data, checked
in headless Chromium (Debian's package; `make test` installs it where it can)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from echo_ops.cli import main
from echo_ops.marts import refresh_marts
from echo_ops.warehouse import connect, publish_snapshot
from tests.kit import create_tables, given
from tests.sql.test_marts import DAY, given_refinements

SECTIONS = ("acceptance", "per-request", "outcomes", "quality", "accounting", "training")


@pytest.fixture
def published(settings) -> Path:
    """A published copy with two days of marts, checks, books and a fine-tune's curves."""
    con = create_tables(connect(settings))
    given_refinements(con)
    given(con, "raw.server_events", [
        (d, f"r-{c}", "m1", arm, user, 12.5)
        for d, c, arm, user in (("2026-11-01", "c0", "treatment", "u2"),
                                ("2026-11-02", "c1", "control", "u1"),
                                ("2026-11-02", "c2", "control", "u1"),
                                ("2026-11-02", "c3", "treatment", "u2"),
                                ("2026-11-01", "x0", "control", "u1"))
    ], columns=("ds", "request_id", "model_version", "arm", "user_id", "latency_ms"))  # fmt: skip
    given(con, "ops.quarantine", [(DAY, "ingest", "bad json")], columns=("ds", "stage", "reason"))
    given(con, "ops.dq_results", [
        ("r1", DAY, "raw_client", "volume", True, datetime(2026, 11, 2, 9)),
        ("r1", DAY, "raw_client", "keys", False, datetime(2026, 11, 2, 9)),
    ], columns=("run_id", "ds", "suite", "expectation", "success", "checked_at"))  # fmt: skip
    curve = [[s, 5.0 - s / 10, 4.8 - s / 12 if s % 5 == 0 else None] for s in range(1, 21)]
    given(con, "registry.models", [(
        "ft1", "champion", "base", "/m", "fine_tune", '{"from": "2026-11-01", "to": "2026-11-01"}',
        json.dumps({"train": {"curve": curve}}), datetime(2026, 11, 2, 1),
    )], columns=("model_id", "status", "parent_id", "artifact_uri", "kind", "data_window",
                 "metrics_json", "promoted_at"))  # fmt: skip
    for day in (date(2026, 11, 1), DAY):
        refresh_marts(con, day)
    publish_snapshot(con, settings.storage.published_path)
    con.close()
    return settings.storage.published_path


def test_report_is_one_self_contained_file_with_every_section(published, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    page = out.read_text()
    # nothing fetched at view time: no external script, stylesheet or image
    assert not re.search(r"<(script|img)[^>]+src=|<link[^>]+href=", page)
    assert page.count("Plotly.newPlot") == len(SECTIONS)  # plotly.js inlined once, six plots
    for anchor in SECTIONS:
        assert f'id="plot-{anchor}"' in page


def test_report_without_a_published_copy_says_what_to_run(settings, capsys):
    assert main(["report"]) == 1
    assert "run echo_daily" in capsys.readouterr().err


def test_an_empty_section_says_so_instead_of_drawing_empty_axes(settings, tmp_path):
    from echo_ops.report import write_report

    con = create_tables(connect(settings))
    page = write_report(con, tmp_path / "r.html").read_text()
    con.close()
    assert page.count("No data yet.") == len(SECTIONS)


class _Plots(HTMLParser):
    """Per plot div: how many trace marks (line or bar paths) carry drawn geometry."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None, bool]] = []  # (tag, plot id, in a trace)
        self.marks: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        plot = a.get("id") if (a.get("id") or "").startswith("plot-") else None
        parent_plot, in_trace = (
            (self.stack[-1][1], self.stack[-1][2]) if self.stack else (None, False)
        )
        plot = plot or parent_plot
        in_trace = in_trace or (tag == "g" and "trace" in (a.get("class") or "").split())
        if plot and plot not in self.marks:
            self.marks[plot] = 0
        if (
            tag == "path"
            and plot
            and in_trace
            and re.match(r"M[\d.-]+,[\d.-]+[LHVZ]", a.get("d") or "")
        ):
            self.marks[plot] += 1
        if tag not in ("path", "rect", "line", "circle", "br", "img", "meta", "input"):
            self.stack.append((tag, plot, in_trace))

    def handle_endtag(self, tag):
        if any(t == tag for t, _, _ in self.stack):
            while self.stack.pop()[0] != tag:
                pass


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("the report render test needs Chromium: sudo apt-get install -y chromium")
    return found


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # no network
         "--virtual-time-budget=10000", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def test_every_plot_draws_with_data_in_headless_chromium(published, tmp_path):
    from PIL import Image

    browser = _chromium()
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out)]) == 0
    dom = _headless(browser, "--dump-dom", out.as_uri()).stdout
    plots = _Plots()
    plots.feed(dom)
    assert set(plots.marks) == {f"plot-{a}" for a in SECTIONS}
    assert all(n > 0 for n in plots.marks.values()), plots.marks  # every plot drew marks
    assert 'class="main-svg"' in dom
    shot = tmp_path / "report.png"
    _headless(browser, f"--screenshot={shot}", "--window-size=1200,3600", out.as_uri())
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 50  # not a blank or unstyled page
    # the treatment arm's line (#1f77b4) and the control's (#7f7f7f) are on the screen
    counts = {rgb: n for n, rgb in colours}
    assert counts.get((0x1F, 0x77, 0xB4), 0) > 30 and counts.get((0x7F, 0x7F, 0x7F), 0) > 30
