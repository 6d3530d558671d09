"""The run report opened in headless Chromium (Debian package `chromium`; scripts/test.sh installs
it): every figure decodes, nothing is logged to the console but the report's own line, and the
screenshot shows the verdict banner and the figures."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.run_report import report
from tests.report_page import Report

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]

WIDTH, HEIGHT = 1200, 6000
BLESSED_GREEN = (0xda, 0xfb, 0xe1)  # the verdict banner's background in report.STYLE


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed: apt-get install chromium (scripts/test.sh does it)"
    return found


def open_in_chromium(page: Path, *mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
         f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0",
         *mode, page.as_uri()], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list:
    """What the page logged: Chromium writes every console message, errors included, as an INFO
    CONSOLE log line: '..:INFO:CONSOLE(12)] "text", source: file:///... (12)'."""
    return re.findall(r':CONSOLE[^\]]*\] "(.*)", source: ', stderr)


@pytest.fixture(scope="module")
def dom(sample_run):
    result = open_in_chromium(Path(sample_run.report), "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_the_checks_see_console_errors_and_broken_images(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img alt="x" src="data:image/png;base64,AAAA">'
                    f'<script>console.error("boom"); undefined_function();</script><script>{report.SCRIPT}</script>'
                    '</body></html>')
    result = open_in_chromium(page, "--dump-dom")
    assert console_messages(result.stderr) == ["boom", "Uncaught ReferenceError: undefined_function is not defined",
                                               "report ready: 1 figures"]
    assert Report(result.stdout).images[0]["data-rendered"] == "0x0"


def test_every_figure_decodes_in_the_browser(dom, sample_run):
    source = Report(Path(sample_run.report).read_text(encoding="utf-8"))
    rendered = Report(dom.stdout)
    assert len(rendered.images) == len(source.images) >= 8
    for image in rendered.images:
        width, height = (int(v) for v in image["data-rendered"].split("x"))
        assert width > 100 and height > 100, image["alt"]


def test_the_console_holds_only_the_reports_own_line(dom, sample_run):
    figures = len(Report(Path(sample_run.report).read_text(encoding="utf-8")).images)
    assert console_messages(dom.stderr) == [f"report ready: {figures} figures"]


def test_screenshot_shows_the_verdict_and_figures(sample_run, tmp_path):
    shot = tmp_path / "report.png"
    result = open_in_chromium(Path(sample_run.report), f"--screenshot={shot}")
    assert result.returncode == 0, result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    top = pixels[:400].reshape(-1, 3)
    assert (np.abs(top.astype(int) - BLESSED_GREEN).sum(axis=1) <= 6).sum() > 10_000  # the BLESSED banner
    colours = {tuple(p) for p in pixels[::4, ::4].reshape(-1, 3)}
    assert len(colours) > 2_000  # photos and charts, not a page of text on white


def test_a_very_long_class_name_keeps_the_gate_table_on_the_page(tmp_path):
    name = "recall of class " + "x" * 250  # a folder name with no space to break at
    table = report._table(["gate", "kind", "value", "threshold", "result"],
                          [[name, "value", "0.5000", ">= 0.4", "pass"]], "gates")
    page = tmp_path / "long.html"
    page.write_text(report._page("long names", [table])
                    .replace("</body>", "<script>document.body.dataset.width = "
                                        "document.documentElement.scrollWidth;</script></body>"), encoding="utf-8")
    result = open_in_chromium(page, "--dump-dom")
    width = int(re.search(r'data-width="(\d+)"', result.stdout).group(1))
    assert width <= WIDTH, width
