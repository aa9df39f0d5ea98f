"""The α grids the papers evaluate on.

Torch-free, so :mod:`theory` evaluates its closed forms on exactly the points the
experiments use.

=====================  ==========================================  ==========================
name                   points                                      used by
=====================  ==========================================  ==========================
``"uniform"``          100 evenly spaced on [0, 1]                 Frankle (2020) §2
``"extended"``         100 evenly spaced on [−0.5, 1.5]            Goodfellow et al. (2015)
                                                                   Figs. 1–3, Im et al. Fig. 10
``"fine"``             200 evenly spaced on [0, 1]                 Goodfellow et al. Fig. 4
``"zoom_init"``        200 evenly spaced on [0, 0.01]              Goodfellow et al. Fig. 4
``"zoom_final"``       200 evenly spaced on [0.99, 1]              Goodfellow et al. Fig. 4
=====================  ==========================================  ==========================
"""

from __future__ import annotations

import numpy as np

__all__ = ["GRIDS", "grid", "uniform", "line"]

#: Named grids: name -> (number of points, start, stop).
GRIDS: dict[str, tuple[int, float, float]] = {
    "uniform": (100, 0.0, 1.0),
    "extended": (100, -0.5, 1.5),
    "fine": (200, 0.0, 1.0),
    "zoom_init": (200, 0.0, 0.01),
    "zoom_final": (200, 0.99, 1.0),
}


def uniform(n: int = 100, start: float = 0.0, stop: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced values from ``start`` to ``stop``, both included.

    Parameters
    ----------
    n : int
        Number of points, at least 2.
    start, stop : float
        Ends of the interval; ``start`` may exceed ``stop`` (a reversed grid).

    Returns
    -------
    numpy.ndarray
        Float64 array of shape ``(n,)``.

    Examples
    --------
    >>> uniform(5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (np.isfinite(start) and np.isfinite(stop)) or start == stop:
        raise ValueError(f"need finite, distinct start and stop, got {start!r} and {stop!r}")
    return np.linspace(float(start), float(stop), int(n))


def grid(name: str) -> np.ndarray:
    """One of the papers' grids by name (see the module table).

    Parameters
    ----------
    name : str
        A key of :data:`GRIDS`.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> g = grid("zoom_final")
    >>> len(g), float(g[0]), float(g[-1])
    (200, 0.99, 1.0)
    """
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; choose from {sorted(GRIDS)}")
    return uniform(*GRIDS[name])


def line(n: int, start: float, stop: float) -> np.ndarray:
    """``n`` evenly spaced values on [start, stop], plus α = 0 and α = 1 where they fall inside.

    The two anchors of a line sit at α = 0 and α = 1; a uniform grid over a wider window
    (Goodfellow et al.'s [−0.5, 1.5]) misses them by up to half a step, and every
    quantity read at the ends (J_init, J_final, the barrier's chord) would be read
    beside the anchor instead of at it. The result is sorted and non-uniform by at most
    those two points, which every metric handles.

    Parameters
    ----------
    n : int
        Number of evenly spaced points, at least 2.
    start, stop : float
        The window, ``start < stop``.

    Returns
    -------
    numpy.ndarray
        Between ``n`` and ``n + 2`` sorted float64 values; a uniform point closer than a
        quarter step to an anchor is moved onto it instead of adding one.

    Examples
    --------
    >>> line(5, -0.5, 1.5)
    array([-0.5,  0. ,  0.5,  1. ,  1.5])
    >>> g = line(100, -0.5, 1.5)  # 0 is added, 1 replaces a point 0.005 away
    >>> len(g), bool(0.0 in g and 1.0 in g)
    (101, True)
    """
    if not start < stop:
        raise ValueError(f"need start < stop, got {start!r} and {stop!r}")
    values = uniform(n, start, stop)
    step = values[1] - values[0]
    for anchor in (0.0, 1.0):
        if not start <= anchor <= stop:
            continue
        nearest = int(np.abs(values - anchor).argmin())
        if abs(values[nearest] - anchor) < step / 4:
            # Moving a point that close keeps the grid's spacing instead of adding a
            # sliver whose second differences would magnify rounding.
            values[nearest] = anchor
        else:
            values = np.append(values, anchor)
    return np.sort(values)
