"""report.html in a real browser: headless Chromium loads it with no JavaScript error,
draws every surface (the screenshot is not blank where each plot is), and shows the
findings table as ``findings.csv`` has it.

Skipped, with one line saying so, where no Chromium is found; CI installs Debian's
``chromium`` (``.ci/run``) and sets ``LANDSCAPES_REQUIRE_BROWSER=1``, which turns the
skip into a failure.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from landscapes import report

from .test_report import output_folder

#: Executables tried in turn (``LANDSCAPES_BROWSER`` first, where set).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1200

#: Put at the top of the page: console errors are errors too.
_CONSOLE = """<script>
window.__consoleErrors = [];
(function () { var plain = console.error; console.error = function () {
  window.__consoleErrors.push(Array.prototype.map.call(arguments, String).join(' '));
  return plain.apply(console, arguments); }; })();
</script>"""

#: Put at the end: once every plot is drawn (or after 20 s), the page's facts in #probe.
_PROBE = """<script>
(function () {
  var started = Date.now();
  function done() {
    var want = document.querySelectorAll('section.slice').length;
    var got = Number(document.documentElement.getAttribute('data-plotted') || 0);
    if (got < want && Date.now() - started < 20000) { setTimeout(done, 100); return; }
    var plots = Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot'), function (d) {
      var r = d.getBoundingClientRect();
      return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height,
              canvases: d.querySelectorAll('canvas').length};
    });
    var rows = Array.prototype.map.call(document.querySelectorAll('#findings tr'), function (tr) {
      return Array.prototype.map.call(tr.children, function (c) { return c.textContent; });
    });
    var out = document.createElement('pre');
    out.id = 'probe';
    out.textContent = JSON.stringify({errors: window.__jsErrors || ['no error collector'],
      console: window.__consoleErrors, plotted: got, slices: want, plots: plots, rows: rows,
      height: document.documentElement.scrollHeight});
    document.body.appendChild(out);
  }
  window.addEventListener('load', function () { setTimeout(done, 50); });
})();
</script>"""


def browser() -> str | None:
    """The first Chromium found, or ``None``."""
    named = os.environ.get("LANDSCAPES_BROWSER")
    for name in ((named,) if named else ()) + BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = browser()
    if found is None:
        if os.environ.get("LANDSCAPES_REQUIRE_BROWSER") == "1":
            pytest.fail("LANDSCAPES_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
        pytest.skip("browser test not run: no headless Chromium found (apt-get install chromium)")
    return found


def run(chromium: str, page: Path, height: int, *args: str) -> str:
    # Root in a container needs --no-sandbox; SwiftShader draws WebGL without a GPU.
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--hide-scrollbars", "--no-first-run", f"--window-size={WIDTH},{height}",
         "--virtual-time-budget=30000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probed(folder: Path) -> Path:
    """The report with the console hook and the probe added, beside it (so that it
    finds plotly.min.js as the report does)."""
    page = (folder / report.FILE).read_text()
    page = page.replace("<head>", "<head>" + _CONSOLE, 1).replace("</body>", _PROBE + "</body>", 1)
    target = folder / "probed.html"
    target.write_text(page)
    return target


def colourful(pixels: np.ndarray) -> float:
    """Share of strongly coloured pixels (the surface's colour scale), as opposed to
    white, greys and the plot's pale background."""
    rgb = pixels[..., :3].astype(float)
    hi, lo = rgb.max(-1), rgb.min(-1)
    return float(((hi - lo) > 0.35 * np.maximum(hi, 1e-9)).mean())


def test_the_report_loads_draws_every_surface_and_shows_the_findings(chromium, tmp_path):
    from matplotlib import image

    folder = output_folder(tmp_path)
    report.build(folder)
    page = probed(folder)
    dom = run(chromium, page, 1000, "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe never ran: " + dom[-500:]
    facts = json.loads(html.unescape(found.group(1)))
    assert facts["errors"] == [] and facts["console"] == [], facts
    assert facts["slices"] == 2 and facts["plotted"] == 2
    assert len(facts["plots"]) == 2 and all(p["canvases"] > 0 and p["w"] > 300 and p["h"] > 300
                                            for p in facts["plots"])
    with (folder / "findings.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert facts["rows"] == rows

    shot = tmp_path / "report.png"
    run(chromium, page, int(facts["height"]) + 20, f"--screenshot={shot}")
    pixels = image.imread(shot)
    assert pixels.shape[1] == WIDTH
    for p in facts["plots"]:
        y0, x0 = int(p["y"]), int(p["x"])
        region = pixels[y0:y0 + int(p["h"]), x0:x0 + int(p["w"])]
        assert region.size and colourful(region) > 0.02, (p, colourful(region))
    # Away from the plots (the title and table) the page is mostly white: the test can tell.
    assert colourful(pixels[: int(facts["plots"][0]["y"])]) < 0.02
    keep = os.environ.get("LANDSCAPES_SCREENSHOTS")
    if keep:  # e.g. docs/: where the docs' screenshot comes from
        shutil.copy(shot, Path(keep) / "report_screenshot.png")
