"""Two budgets' findings of one paper side by side: which verdicts a longer run flips.

A quick budget trains for minutes; a paper or long budget for the paper's own length.
Whether a claim "differs" because of the data or because of the budget shows only when
both are read claim by claim. :func:`side_by_side` joins two ``findings.csv`` files of
:mod:`landscapes.reproduce` on (figure, claim) and marks each claim whose verdict
changed::

    python -m landscapes.app.verdicts QUICK.csv PAPER.csv --names quick,paper --out BOTH.csv

A claim only one of them judged (a figure one budget does not make) is kept, its other
side empty.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from landscapes import results

__all__ = ["side_by_side", "read", "write", "main"]


def read(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a ``findings.csv``; one line naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no findings file at {str(path)!r}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"figure", "claim", "measured", "verdict"} <= set(rows[0]):
        raise ValueError(f"{str(path)!r} is not a findings.csv of landscapes.reproduce (columns "
                         f"{list(rows[0])!r}; want figure, claim, measured, verdict)")
    return rows


def side_by_side(first: Sequence[dict[str, str]], second: Sequence[dict[str, str]],
                 names: tuple[str, str] = ("quick", "paper")) -> list[dict[str, str]]:
    """One row per claim of either: both verdicts, both measurements, and ``changed``.

    Examples
    --------
    >>> quick = [{"figure": "3", "claim": "c", "measured": "0.1", "verdict": "differs"}]
    >>> paper = [{"figure": "3", "claim": "c", "measured": "0.0", "verdict": "reproduced"}]
    >>> row, = side_by_side(quick, paper)
    >>> row["quick verdict"], row["paper verdict"], row["changed"]
    ('differs', 'reproduced', 'yes')
    """
    a, b = names
    keyed_a = {(r["figure"], r["claim"]): r for r in first}
    keyed_b = {(r["figure"], r["claim"]): r for r in second}
    out = []
    for key in dict.fromkeys([*keyed_a, *keyed_b]):  # first's order, then second's new claims
        left, right = keyed_a.get(key, {}), keyed_b.get(key, {})
        va, vb = left.get("verdict", ""), right.get("verdict", "")
        out.append({"figure": key[0], "claim": key[1],
                    f"{a} verdict": va, f"{b} verdict": vb,
                    "changed": "yes" if left and right and va != vb else "",
                    f"{a} measured": left.get("measured", ""),
                    f"{b} measured": right.get("measured", "")})
    return out


def write(rows: Sequence[dict[str, str]], target: str | os.PathLike) -> Path:
    """``rows`` as CSV at ``target``, written atomically."""
    target = Path(target)

    def dump(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, list(rows[0]) if rows else ["figure", "claim"],
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    results.atomic_write(target, dump)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m landscapes.app.verdicts",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("first", help="findings.csv of the shorter budget")
    parser.add_argument("second", help="findings.csv of the longer budget")
    parser.add_argument("--names", default="quick,paper",
                        help="the two budgets' names, comma-separated (default quick,paper)")
    parser.add_argument("--out", type=Path, help="CSV to write (default: print)")
    args = parser.parse_args(argv)
    names = tuple(n.strip() for n in args.names.split(","))
    if len(names) != 2 or not all(names):
        parser.error(f"--names wants two names separated by a comma, got {args.names!r}")
    try:
        rows = side_by_side(read(args.first), read(args.second), names)  # type: ignore[arg-type]
    except (FileNotFoundError, ValueError) as why:
        parser.error(str(why))
    if args.out is None:
        writer = csv.DictWriter(sys.stdout, list(rows[0]) if rows else ["figure"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(f"wrote {write(rows, args.out)}: {sum(r['changed'] == 'yes' for r in rows)} of "
              f"{len(rows)} verdicts changed")


if __name__ == "__main__":
    main()
