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

__all__ = ["GRIDS", "grid", "uniform"]

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
