"""The benchmark table: rows, markdown and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from landscapes import results

__all__ = ["COLUMNS", "row", "markdown", "write_csv"]

COLUMNS = ["workload", "plain_s", "engine_s", "ratio", "engine_gflops", "peak_gflops",
           "limit_s", "gap"]


def row(name: str, t_plain: float, t_engine: float, flops: float, left: float, peak: float) -> dict:
    """One row: seconds, their ratio, engine GFLOP/s on the plain loop's ``flops``, and
    the arithmetic limit, the ``left`` FLOPs after first-layer reuse at ``peak`` GFLOP/s."""
    limit = left / (peak * 1e9)
    return {
        "workload": name, "plain_s": t_plain, "engine_s": t_engine, "ratio": t_plain / t_engine,
        "engine_gflops": flops / t_engine / 1e9, "peak_gflops": peak, "limit_s": limit,
        "gap": t_engine / limit,
    }


def markdown(rows: Sequence[dict]) -> str:
    """The rows as a markdown table.

    Examples
    --------
    >>> print(markdown([row("w", 2.0, 1.0, 4e9, 1e9, 10.0)]).splitlines()[2])
    | w | 2.00 | 1.00 | 2.0 | 4.0 | 10.0 | 0.10 | 10.0 |
    """
    head = ["workload", "plain-loop s", "engine s", "ratio", "effective GFLOP/s",
            "peak GFLOP/s (matmul; conv nets: 64→64 conv)", "arithmetic limit s", "engine ÷ limit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['plain_s']:.2f} | {r['engine_s']:.2f} | {r['ratio']:.1f} | "
            f"{r['engine_gflops']:.1f} | {r['peak_gflops']:.1f} | {r['limit_s']:.2f} | {r['gap']:.1f} |"
        )
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: Path, columns: Sequence[str] = COLUMNS) -> None:
    """Write the rows to ``path`` atomically, one column per name in ``columns``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    results.atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))
