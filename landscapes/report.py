"""One page a researcher opens in a browser: ``report.html`` for an output folder.

Built from what the folder holds and nothing else -- the netCDF results (``*.nc``, in
the :mod:`landscapes.results` schema), ``findings.csv`` and the figure files
(``*.png``) -- so it can be made again from any existing output folder::

    python -m landscapes.report OUTDIR

The page shows the findings table, every figure (embedded), and every 2-D slice (a
dataset whose ``loss`` has both ``alpha`` and ``beta`` dimensions: random-direction
planes, bilinear surfaces and barycentric triangles, Im et al. 2016 App. A.1) as an
interactive 3-D surface of the loss over (α, β), hover giving α, β, loss and error,
the anchors the slice passes through marked. Where a dataset has other dimensions
(``surface``, ``replicate``, ``split``, ...), a menu picks one slice of it.

It works offline: plotly's JavaScript is written once beside the page
(:data:`PLOTLY_JS`), or embedded with ``inline=True``; the page loads nothing from
the network.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import itertools
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from landscapes import results

__all__ = ["FILE", "PLOTLY_JS", "build", "findings", "slices", "main"]

#: The page's file name in the output folder.
FILE = "report.html"
#: Plotly's JavaScript, written beside the page (unless embedded).
PLOTLY_JS = "plotly.min.js"

#: Where each anchor of a slice sits on its (α, β) grid, by the path's kind
#: (:mod:`landscapes.paths`): a plane's centre, a bilinear surface's corners θ₀₀, θ₁₀,
#: θ₀₁, θ₁₁, a triangle's θ₀ (the whole α = 0 edge; marked at β = 0), θ₁ and θ₂.
CORNERS: dict[str, list[tuple[float, float]]] = {
    "plane": [(0.0, 0.0)],
    "bilinear": [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)],
    "barycentric": [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)],
}
DEFAULT_NAMES = {"plane": ["center"], "bilinear": ["θ₀₀", "θ₁₀", "θ₀₁", "θ₁₁"],
                 "barycentric": ["θ₀", "θ₁", "θ₂"]}

#: Collects JavaScript errors into the page (a browser test, or a reader, finds them
#: in ``#js-errors``); it runs before any other script.
_ERRORS = """<script>
window.__jsErrors = [];
function __record(text) {
  window.__jsErrors.push(String(text));
  var box = document.getElementById('js-errors');
  if (box) { box.textContent = window.__jsErrors.join('\\n'); box.hidden = false; }
  document.documentElement.setAttribute('data-js-errors', String(window.__jsErrors.length));
}
window.addEventListener('error', function (e) { __record(e.message || e); });
window.addEventListener('unhandledrejection', function (e) { __record(e.reason); });
document.documentElement.setAttribute('data-js-errors', '0');
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
table.findings { border-collapse: collapse; width: 100%; font-size: 0.9em; }
table.findings th, table.findings td { border: 1px solid #ccc; padding: 0.35em; vertical-align: top; text-align: left; }
table.findings th { background: #f0f0f0; }
table.findings tbody th { width: 16em; font-weight: 600; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
.surface { width: 100%; height: 640px; }
#js-errors { color: #b00; white-space: pre-wrap; }
</style>"""


def findings(folder: str | os.PathLike, name: str = "findings.csv") -> list[dict[str, str]]:
    """The rows of ``findings.csv`` (or another table ``name``, e.g. compare's
    ``summary.csv``) in ``folder``; none where there is no such file."""
    path = Path(folder) / name
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _datasets(folder: Path) -> list[tuple[str, xr.Dataset]]:
    files = sorted(folder.glob("*.nc"))
    out = []
    for nc in files:
        for node in results.load_tree(nc).subtree:
            if node.has_data:
                name = node.path.strip("/") or nc.stem
                out.append((f"{nc.name}:{name}" if len(files) > 1 else name, node.to_dataset()))
    return out


def slices(folder: str | os.PathLike) -> list[tuple[str, xr.Dataset]]:
    """Every 2-D slice dataset of the folder's netCDF results, with its group's name:
    those whose ``loss`` has both ``alpha`` and ``beta`` dimensions."""
    return [(n, ds) for n, ds in _datasets(Path(folder))
            if "loss" in ds and {"alpha", "beta"} <= set(ds["loss"].dims)]


def _hyper(ds: xr.Dataset) -> dict[str, Any]:
    try:
        out = json.loads(ds.attrs.get("hyperparameters", "{}"))
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _find(tree: Any, key: str) -> Any:
    """The value of ``key`` nearest the top of nested hyperparameters (analyses keep
    the evaluation's under ``"evaluation"``; a stack of systems keeps one per system in
    a list), or ``None``."""
    level = [tree]
    while level:
        for d in level:
            if key in d:
                return d[key]
        nested = [v for d in level for v in d.values()]
        level = [v for v in nested if isinstance(v, dict)] + [
            x for v in nested if isinstance(v, list) for x in v if isinstance(x, dict)]
    return None


def _kind(ds: xr.Dataset, where: dict[str, Any]) -> str | None:
    """The path kind of one slice: per ``surface`` where the hyperparameters say, else
    the dataset's ``path``."""
    hyper = _hyper(ds)
    per = _find(hyper, "surfaces")
    if "surface" in where and isinstance(per, dict) and str(where["surface"]) in per:
        return str(per[str(where["surface"])])
    kind = _find(hyper, "path")
    return str(kind) if kind in CORNERS else None


def _anchor_names(ds: xr.Dataset, where: dict[str, Any], kind: str) -> list[str]:
    n = len(CORNERS[kind])
    if "surface" in where:
        # A surface named after what it passes through, e.g. "solutions:a,b,c" or
        # "init:a,b" (the init, then a and b); the stored anchors are one surface's.
        prefix, _, rest = str(where["surface"]).partition(":")
        listed = rest.split(",") if rest else []
        if len(listed) == n:
            return listed
        if listed and len(listed) == n - 1:
            return [prefix, *listed]
        return DEFAULT_NAMES[kind]
    names = _find(_hyper(ds), "anchors")
    if isinstance(names, list) and len(names) == n:
        return [str(a) for a in names]
    return DEFAULT_NAMES[kind]


def _label(where: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items()) or "the slice"


def _plain(a: np.ndarray) -> Any:
    return [[None if (v is None or not math.isfinite(v)) else float(v) for v in row] for row in a.tolist()]


def _choices(da: xr.DataArray) -> list[dict[str, Any]]:
    others = [d for d in da.dims if d not in ("alpha", "beta")]
    values = [list(da[d].values) if d in da.coords else list(range(da.sizes[d])) for d in others]
    return [dict(zip(others, combo)) for combo in itertools.product(*values)]


def _figure(name: str, ds: xr.Dataset) -> Any:
    """The plotly figure of one 2-D dataset: a surface and its anchors per slice, one
    slice shown at a time, a menu over the others."""
    import plotly.graph_objects as go

    loss = ds["loss"]
    error = (ds["error"] if "error" in ds else xr.full_like(loss, np.nan)).broadcast_like(loss)
    alpha, beta = loss["alpha"].values.astype(float), loss["beta"].values.astype(float)
    fig = go.Figure()
    groups: list[tuple[str, int]] = []
    for where in _choices(loss):
        sel = {d: v for d, v in where.items() if d in loss.coords}
        pos = {d: v for d, v in where.items() if d not in loss.coords}
        z = loss.sel(sel).isel(pos).transpose("beta", "alpha").values.astype(float)
        e = error.sel(sel).isel(pos).transpose("beta", "alpha").values.astype(float)
        label = _label({d: v for d, v in where.items() if loss.sizes[d] > 1})
        first = not groups
        fig.add_trace(go.Surface(
            x=alpha, y=beta, z=_plain(z), customdata=_plain(e), name=label, visible=first,
            colorscale="Viridis", colorbar={"title": {"text": "loss"}},
            hovertemplate="α=%{x:.4g}<br>β=%{y:.4g}<br>loss=%{z:.5g}<br>error=%{customdata:.4g}"
                          "<extra>" + html.escape(label) + "</extra>",
        ))
        count = 1
        kind = _kind(ds, where)
        if kind is not None:
            ax, bx, az, ae, names = [], [], [], [], []
            for (a, b), anchor in zip(CORNERS[kind], _anchor_names(ds, where, kind)):
                if alpha.min() <= a <= alpha.max() and beta.min() <= b <= beta.max():
                    i, j = int(np.argmin(np.abs(beta - b))), int(np.argmin(np.abs(alpha - a)))
                    ax.append(a), bx.append(b), names.append(anchor)
                    az.append(None if not math.isfinite(z[i, j]) else float(z[i, j]))
                    ae.append(None if not math.isfinite(e[i, j]) else float(e[i, j]))
            if names:
                fig.add_trace(go.Scatter3d(
                    x=ax, y=bx, z=az, customdata=ae, text=names, mode="markers+text", visible=first,
                    name="anchors", marker={"size": 5, "color": "red"}, textposition="top center",
                    hovertemplate="%{text}<br>α=%{x:.4g}<br>β=%{y:.4g}<br>loss=%{z:.5g}"
                                  "<br>error=%{customdata:.4g}<extra>anchor</extra>",
                ))
                count = 2
        groups.append((label, count))
    total = sum(c for _, c in groups)
    buttons, start = [], 0
    for label, count in groups:
        visible = [False] * total
        visible[start:start + count] = [True] * count
        buttons.append({"label": label, "method": "update", "args": [{"visible": visible}]})
        start += count
    layout: dict[str, Any] = {
        "title": {"text": f"{name}: {ds.attrs.get('system', '')}", "x": 0.5, "xanchor": "center"},
        "scene": {"xaxis": {"title": {"text": "α"}}, "yaxis": {"title": {"text": "β"}},
                  "zaxis": {"title": {"text": "loss"}}},
        "margin": {"l": 0, "r": 0, "t": 60, "b": 0}, "showlegend": False,
    }
    if len(buttons) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.08, "yanchor": "top"}]
    fig.update_layout(**layout)
    return fig


def _html_table(name: str, head: list[str], body: list[tuple[str | None, list[str]]]) -> str:
    """``<table>`` of header cells ``head`` and rows (a row header or None, cells)."""
    def cells(tag: str, values: list[str]) -> str:
        return "".join(f"<{tag}>{html.escape(v or '')}</{tag}>" for v in values)

    rows = "".join("<tr>" + (cells("th", [lead]) if lead is not None else "") + cells("td", rest)
                   + "</tr>" for lead, rest in body)
    return (f'<table class="findings" id="{name}"><thead><tr>{cells("th", head)}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _table(rows: list[dict[str, str]], name: str = "findings") -> str:
    if not rows:
        return f"<p>No <code>{name}.csv</code> in this folder.</p>"
    columns = list(rows[0])
    return _html_table(name, columns, [(None, [r.get(c) for c in columns]) for r in rows])


def _by_row(rows: list[dict[str, str]], name: str) -> str:
    """A wide table turned on its side: one row per column of the file, one column per
    row of it (compare's summary has a column per measure and a row per system, too
    wide for a page as it is), the first column's values as the header."""
    if not rows:
        return _table(rows, name)
    key, *columns = list(rows[0])
    return _html_table(name, [key, *[r.get(key) for r in rows]],
                       [(c, [r.get(c) for r in rows]) for c in columns])


def _figures(folder: Path) -> str:
    parts = []
    for png in sorted(folder.glob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(png.name)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(png.name)}</figcaption></figure>")
    return "".join(parts) or "<p>No figures in this folder.</p>"


def build(folder: str | os.PathLike, *, inline: bool = False, title: str | None = None) -> Path:
    """Write ``report.html`` in ``folder`` from its netCDF results, findings and figures.

    Parameters
    ----------
    folder : path-like
        An output folder of ``compare`` or ``reproduce`` (any folder of ``*.nc``
        results in the :mod:`landscapes.results` schema will do).
    inline : bool
        Embed plotly's JavaScript in the page (about 4.6 MB) instead of writing
        :data:`PLOTLY_JS` beside it.
    title : str, optional
        The page's title; default the folder's name.

    Returns
    -------
    pathlib.Path
        The page written.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from landscapes import results
    >>> g = np.linspace(0, 1, 3)
    >>> ds = results.slice_dataset(np.add.outer(g, g), alpha=g, beta=g, analysis="plane", system="toy")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = results.save(ds, Path(tmp) / "results.nc")
    ...     print(build(tmp).name)
    report.html
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no output folder at {str(folder)!r}")
    return _build(folder, inline, title or folder.name)


def _build(folder: Path, inline: bool, title: str) -> Path:
    import plotly
    from plotly.offline import get_plotlyjs

    plots = []
    for k, (name, ds) in enumerate(slices(folder)):
        fig = _figure(name, ds)
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"surface-{k}",
                          default_width="100%", default_height="640px",
                          config={"displaylogo": False, "responsive": True},
                          post_script="document.documentElement.setAttribute('data-plotted', "
                                      "String(1 + Number(document.documentElement.getAttribute("
                                      "'data-plotted') || 0)));")
        plots.append(f'<section class="slice" data-dataset="{html.escape(name)}">'
                     f"<h3>{html.escape(name)}</h3>{div}</section>")
    if inline:
        script = f"<script>{get_plotlyjs()}</script>"
    else:
        results.atomic_write(folder / PLOTLY_JS, lambda tmp: Path(tmp).write_text(get_plotlyjs(), encoding="utf-8"))
        script = f'<script src="{PLOTLY_JS}"></script>'
    summary = findings(folder, "summary.csv")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{_ERRORS}'
        f"<title>{html.escape(title)}</title>{_STYLE}{script}</head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<pre id="js-errors" hidden></pre>'
        f"<p>Made by <code>python -m landscapes.report</code> from this folder's results "
        f"(plotly {html.escape(plotly.__version__)}); it loads nothing from the network.</p>"
        f"<h2>Findings</h2>{_table(findings(folder))}"
        # compare's table of every analysis and system, where the folder has one
        + (f"<h2>Summary</h2>{_by_row(summary, 'summary')}" if summary else "")
        + f'<h2>2-D slices</h2><p>{len(plots)} interactive surface{"s" if len(plots) != 1 else ""}: '
        "drag to turn, hover for α, β, loss and error; red points are the anchors.</p>"
        + ("".join(plots) or "<p>No 2-D slices in these results.</p>")
        + f"<h2>Figures</h2>{_figures(folder)}</body></html>\n"
    )
    target = folder / FILE
    results.atomic_write(target, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m landscapes.report OUTDIR [--inline]``: (re)write OUTDIR/report.html."""
    p = argparse.ArgumentParser(prog="python -m landscapes.report", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="an output folder of compare or reproduce")
    p.add_argument("--inline", action="store_true", help=f"embed plotly's JavaScript instead of writing {PLOTLY_JS} beside the page")
    args = p.parse_args(argv)
    try:
        target = build(args.folder, inline=args.inline)
    except (FileNotFoundError, results.SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
