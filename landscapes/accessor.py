"""The ``ds.landscape`` accessor: metrics, plots and I/O as methods of a dataset.

Importing this module registers the accessor; :mod:`landscapes` does so on import.
Every method forwards to a module-level function with the dataset as first argument
and adds no logic of its own, so the function's documentation is the reference.
matplotlib is imported only when a plot is drawn.

Examples
--------
>>> import numpy as np
>>> import landscapes.accessor  # registers ds.landscape
>>> from landscapes.results import slice_dataset
>>> a = np.linspace(0, 1, 5)
>>> ds = slice_dataset([1.0, 2.0, 1.5, 0.5, 0.0], alpha=a, analysis="demo", system="toy")
>>> float(ds.landscape.rise_barrier().height)
1.0
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from landscapes import metrics, results

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["LandscapeAccessor"]


def _forward(func: Callable[..., Any]) -> Callable[..., Any]:
    """A method calling ``func(self._ds, ...)``, documented and signed like ``func``."""

    @functools.wraps(func)
    def method(self: LandscapeAccessor, *args: Any, **kwargs: Any) -> Any:
        return func(self._ds, *args, **kwargs)

    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + params[1:]
    )
    return method


@xr.register_dataset_accessor("landscape")
class LandscapeAccessor:
    """Methods of :mod:`landscapes` on a results dataset, as ``ds.landscape.<name>``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    rise_barrier = _forward(metrics.rise_barrier)
    linear_barrier = _forward(metrics.linear_barrier)
    monotonicity = _forward(metrics.monotonicity)
    convexity = _forward(metrics.convexity)
    local_minima = _forward(metrics.local_minima)
    half_drop_alpha = _forward(metrics.half_drop_alpha)
    flattening = _forward(metrics.flattening)
    bump_barrier = _forward(metrics.bump_barrier)

    def plot(self, *args: Any, **kwargs: Any) -> Axes:
        """Draw the dataset with the plot that fits its kind; returns the Axes.

        Trajectory datasets go to :func:`landscapes.plots.plot_trajectory`, slices with
        a ``beta`` dimension to :func:`~landscapes.plots.plot_surface`, other slices to
        :func:`~landscapes.plots.plot_path`; arguments are passed through.
        """
        from landscapes import plots

        if "step" in self._ds.dims and "projection" in self._ds.data_vars:
            return plots.plot_trajectory(self._ds, *args, **kwargs)
        if "beta" in self._ds.dims:
            return plots.plot_surface(self._ds, *args, **kwargs)
        return plots.plot_path(self._ds, *args, **kwargs)

    def validate(self) -> xr.Dataset:
        """:func:`landscapes.results.validate` on this dataset (returns it unchanged)."""
        return results.validate(self._ds)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """:func:`landscapes.results.save` this dataset to ``path``; returns the path."""
        return results.save(self._ds, path)
