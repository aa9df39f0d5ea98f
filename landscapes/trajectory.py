"""How far a training trajectory strays from the straight start→end line.

Goodfellow, Vinyals & Saxe (2015, Appendix B, Figs. 11–13) project every parameter
vector θ_t of a trajectory onto the unit axis

.. math:: u = \\frac{\\theta_\\text{end} - \\theta_\\text{start}}
               {\\lVert \\theta_\\text{end} - \\theta_\\text{start} \\rVert}

and plot the projection :math:`p_t = (\\theta_t - \\theta_\\text{start}) \\cdot u` against
the norm of the residual :math:`r_t = \\lVert (\\theta_t - \\theta_\\text{start}) - p_t u
\\rVert`. The shape of that curve is mostly set by the dimension (Fig. 11), but the
ratio :math:`r_t / \\lVert\\theta_t\\rVert` says how much of the parameter vector the 1-D
subspace leaves out (Fig. 13).

This module never imports torch: tensors are recognised by their ``.detach`` method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from landscapes import results

__all__ = ["Projection", "project", "project_array"]

#: Rows of a 2-D array handled at once, so float64 copies stay near 64 MiB.
_CHUNK_ELEMENTS = 8 * 2**20


class Projection(NamedTuple):
    """Per-step results of :func:`project_array`, each a float64 array of length T."""

    projection: np.ndarray
    residual: np.ndarray
    norm: np.ndarray


# --------------------------------------------------------------------------- flattening


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, recognised without importing torch
        tensor = value.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.double()  # bfloat16/float16 have no exact numpy twin
        return tensor.numpy()
    return np.asarray(value)


class _Layout:
    """How one parameter vector is flattened: a bare vector, or named floating entries."""

    def __init__(self, reference: Any, where: str) -> None:
        if isinstance(reference, Mapping):
            entries = self._floating(reference)
            if not entries:
                raise ValueError(f"{where} has no floating-point entries to project")
            self.keys: tuple[Any, ...] | None = tuple(sorted(entries, key=str))
            self.shapes = {k: entries[k].shape for k in self.keys}
            self.size = sum(entries[k].size for k in self.keys)
        else:
            array = self._vector(reference, where)
            self.keys = None
            self.shapes = {}
            self.size = array.size

    @staticmethod
    def _floating(mapping: Mapping[Any, Any]) -> dict[Any, np.ndarray]:
        # Integer buffers (e.g. BatchNorm's num_batches_tracked) are counters, not
        # coordinates of parameter space.
        arrays = {k: _to_numpy(v) for k, v in mapping.items()}
        return {k: a for k, a in arrays.items() if a.dtype.kind == "f"}

    @staticmethod
    def _vector(value: Any, where: str) -> np.ndarray:
        array = _to_numpy(value)
        if array.ndim != 1:
            raise ValueError(
                f"{where} must be a 1-D parameter vector or a mapping of name to array, "
                f"got an array of shape {array.shape!r}"
            )
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{where} must be numeric, got dtype {str(array.dtype)!r}")
        return array

    def flatten(self, value: Any, where: str) -> np.ndarray:
        """``value`` as a finite float64 vector in this layout, or a clear error."""
        if self.keys is None:
            if isinstance(value, Mapping):
                raise ValueError(f"{where} is a mapping but the start vector is a flat array")
            flat = self._vector(value, where).astype(np.float64)
            if flat.size != self.size:
                raise ValueError(
                    f"{where} has {flat.size} parameters, the start vector has {self.size}"
                )
            bad = ~np.isfinite(flat)
            if bad.any():
                raise ValueError(
                    f"{where} has non-finite values (first at position {int(np.argmax(bad))})"
                )
            return flat
        if not isinstance(value, Mapping):
            raise ValueError(
                f"{where} is a {type(value).__name__} but the start vector is a mapping "
                f"of name to array"
            )
        entries = self._floating(value)
        missing = [k for k in self.keys if k not in entries]
        extra = sorted((k for k in entries if k not in self.shapes), key=str)
        if missing or extra:
            raise ValueError(
                f"{where} has different floating-point entries from the start vector: "
                f"missing {missing!r}, unexpected {extra!r}"
            )
        parts = []
        for k in self.keys:
            if entries[k].shape != self.shapes[k]:
                raise ValueError(
                    f"{where} entry {k!r} has shape {entries[k].shape!r}, "
                    f"expected {self.shapes[k]!r}"
                )
            part = entries[k].astype(np.float64).ravel()
            if not np.isfinite(part).all():
                raise ValueError(f"{where} entry {k!r} has non-finite values")
            parts.append(part)
        return np.concatenate(parts)


# ----------------------------------------------------------------------------- indexing


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _resolve(value: Any, default: int, n: int, name: str) -> tuple[int | None, Any]:
    """An endpoint as (index, item): ``None`` → default index; int → index; else a vector."""
    if value is None:
        value = default
    if _is_index(value):
        index = int(value)
        if not -n <= index < n:
            raise ValueError(f"{name}={value!r} is out of range for {n} parameter vectors")
        return index % n, None
    return None, value


def _axis(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, float]:
    chord = end - start
    length = float(np.linalg.norm(chord))
    if length == 0.0:
        raise ValueError(
            "start and end are the same point, so the start→end axis is undefined; "
            "choose a different end"
        )
    return chord / length, length


# ------------------------------------------------------------------------------- arrays


def project_array(X: Any, start: Any = 0, end: Any = -1) -> Projection:
    """Project the rows of a (steps × D) array onto the start→end axis.

    The array form of :func:`project` (Goodfellow et al. 2015, Appendix B), for
    trajectories that fit in memory, such as the random walks of their Fig. 11.

    Parameters
    ----------
    X : array_like, shape (T, D)
        One parameter vector per row.
    start, end : int or array_like of shape (D,)
        Row indices (negative ones count from the end) or the vectors themselves.
        Default: the first and the last row.

    Returns
    -------
    Projection
        ``projection`` :math:`p_t = (\\theta_t - \\theta_\\text{start}) \\cdot u`,
        ``residual`` :math:`\\lVert (\\theta_t - \\theta_\\text{start}) - p_t u \\rVert`
        and ``norm`` :math:`\\lVert \\theta_t \\rVert`, float64 arrays of length T.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or has non-finite values, an index is out of range, a
        vector has the wrong length, or start and end coincide.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    >>> p, r, n = project_array(X)
    >>> p.tolist(), r.tolist()
    ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])
    """
    X = _check_array(X)
    theta_start, theta_end, _, _ = _array_endpoints(X, start, end)
    return _project_rows(X, theta_start, theta_end)[0]


def _check_array(X: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (steps × parameters), got shape {X.shape!r}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {str(X.dtype)!r}")
    if X.shape[0] == 0:
        raise ValueError("X has no rows")
    return X


def _array_endpoints(
    X: np.ndarray, start: Any, end: Any
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """The start and end rows or vectors, checked, with labels for the attributes."""
    T, D = X.shape
    vectors, labels = [], []
    for name, value, default in (("start", start, 0), ("end", end, -1)):
        index, vector = _resolve(value, default, T, name)
        if index is not None:
            vector = X[index]
        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (D,):
            raise ValueError(f"{name} must have shape {(D,)!r}, got {vector.shape!r}")
        if not np.isfinite(vector).all():
            raise ValueError(f"{name} has non-finite values")
        vectors.append(vector)
        labels.append(_label(index))
    if labels[0] == labels[1] and labels[0] != "given vector":
        raise ValueError(f"start and end are the same row ({labels[0]}); the axis needs two points")
    return vectors[0], vectors[1], labels[0], labels[1]


def _project_rows(
    X: np.ndarray, theta_start: np.ndarray, theta_end: np.ndarray
) -> tuple[Projection, float]:
    T, D = X.shape
    u, length = _axis(theta_start, theta_end)
    out = Projection(np.empty(T), np.empty(T), np.empty(T))
    rows = max(1, _CHUNK_ELEMENTS // max(D, 1))
    for lo in range(0, T, rows):
        block = X[lo : lo + rows].astype(np.float64)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            raise ValueError(f"row {lo + int(np.argmin(finite))} of X has non-finite values")
        _project_block(block, theta_start, u, out, lo)
    return out, length


def _project_block(
    block: np.ndarray, theta_start: np.ndarray, u: np.ndarray, out: Projection, lo: int
) -> None:
    offset = block - theta_start
    p = offset @ u
    # The residual vector is formed explicitly: sqrt(|d|² − p²) loses half the digits
    # exactly where the trajectory is near the axis.
    offset -= p[:, None] * u
    hi = lo + len(block)
    out.projection[lo:hi] = p
    out.residual[lo:hi] = np.linalg.norm(offset, axis=1)
    out.norm[lo:hi] = np.linalg.norm(block, axis=1)


# ---------------------------------------------------------------------------- sequences


def project(
    thetas: Sequence[Any] | Iterable[Any],
    start: Any = None,
    end: Any = None,
    *,
    step: Sequence[int] | np.ndarray | None = None,
    system: str = "trajectory",
    analysis: str = "trajectory",
    seeds: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> xr.Dataset:
    """Project a training trajectory onto its start→end axis (Goodfellow et al. 2015, App. B).

    For every parameter vector θ_t, with :math:`u = (\\theta_\\text{end} -
    \\theta_\\text{start}) / \\lVert \\theta_\\text{end} - \\theta_\\text{start} \\rVert`:

    * ``projection`` :math:`p_t = (\\theta_t - \\theta_\\text{start}) \\cdot u`,
    * ``residual`` :math:`r_t = \\lVert (\\theta_t - \\theta_\\text{start}) - p_t u \\rVert`,
    * ``norm`` :math:`\\lVert \\theta_t \\rVert`,
    * ``residual_ratio`` :math:`r_t / \\lVert \\theta_t \\rVert` (NaN where the norm is 0),
      the share of the parameter vector the 1-D subspace leaves out (their Fig. 13).

    so that :math:`p_t^2 + r_t^2 = \\lVert \\theta_t - \\theta_\\text{start} \\rVert^2`,
    the start sits at (0, 0) and the end at :math:`(\\lVert \\theta_\\text{end} -
    \\theta_\\text{start} \\rVert, 0)`. Everything is computed in float64.

    Parameters
    ----------
    thetas : sequence or iterable
        Parameter vectors in training order: 1-D arrays (numpy or torch), or mappings
        of name to array/tensor such as a ``state_dict``. A mapping is flattened over
        its floating-point entries in sorted key order (integer buffers are skipped);
        every item must have the same entries and shapes. Items are read one at a
        time, so with a lazy sequence (e.g. one that loads checkpoint *i* on
        indexing) memory holds only the start vector, the axis and the current item;
        the start and end items are read twice. An iterator without ``len`` is
        first collected into a list. A 2-D numpy array is handled by
        :func:`project_array`.
    start, end : int, array or mapping, optional
        Index into ``thetas`` (negative counts from the end) or a parameter vector in
        the same form as the items. Default: the first and the last item. An index
        before the last item follows Goodfellow et al.'s Fig. 11, where step 900 is
        the "solution" and the trajectory continues past it.
    step : array_like of int, optional
        Training step of each item; default ``0, 1, ...``.
    system, analysis : str
        Dataset labels, see :func:`landscapes.results.trajectory_dataset`.
    seeds, hyperparameters, device
        Provenance, see :func:`landscapes.results.provenance`.

    Returns
    -------
    xarray.Dataset
        A trajectory dataset (dimension ``step``) with ``projection``, ``residual``,
        ``norm`` and ``residual_ratio``; attributes ``axis_length``
        (:math:`\\lVert \\theta_\\text{end} - \\theta_\\text{start} \\rVert`), ``start``
        and ``end`` (what was used, e.g. ``"index 0"``).

    Raises
    ------
    ValueError
        If ``thetas`` is empty or a single mapping, an index is out of range, start and
        end coincide, items differ in shape or entries from the start vector, a value
        is not finite, or ``step`` has the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> thetas = [np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.array([2.0, 0.0])]
    >>> ds = project(thetas)
    >>> ds.projection.values.tolist(), ds.residual.values.tolist()
    ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])
    >>> sd = [{"w": t[:1], "b": t[1:], "n": np.array(3)} for t in thetas]  # int entry skipped
    >>> bool((project(sd).projection == ds.projection).all())
    True
    """
    if isinstance(thetas, Mapping):
        raise ValueError(
            "thetas must be a sequence of parameter vectors, got a single mapping; "
            "wrap it in a list or pass several checkpoints"
        )
    if isinstance(thetas, np.ndarray) and thetas.ndim == 2:
        return _from_array(thetas, start, end, step, system, analysis, seeds,
                           hyperparameters, device)
    if not (hasattr(thetas, "__len__") and hasattr(thetas, "__getitem__")):
        thetas = list(thetas)
    n = len(thetas)
    if n == 0:
        raise ValueError("thetas is empty; give at least two parameter vectors")
    steps = _steps(step, n)
    i_start, v_start = _resolve(start, 0, n, "start")
    i_end, v_end = _resolve(end, -1, n, "end")
    if i_start is not None and i_start == i_end:
        raise ValueError(
            f"start and end are the same item (index {i_start}); the axis needs two points"
        )
    where_start = f"thetas[{i_start}]" if i_start is not None else "start"
    raw_start = thetas[i_start] if i_start is not None else v_start
    layout = _Layout(raw_start, where_start)
    theta_start = layout.flatten(raw_start, where_start)
    theta_end = layout.flatten(
        thetas[i_end] if i_end is not None else v_end,
        f"thetas[{i_end}]" if i_end is not None else "end",
    )
    u, length = _axis(theta_start, theta_end)
    del theta_end
    out = Projection(np.empty(n), np.empty(n), np.empty(n))
    for t in range(n):
        theta = layout.flatten(thetas[t], f"thetas[{t}]")
        _project_block(theta[None, :], theta_start, u, out, t)
    return _dataset(out, steps, length, _label(i_start), _label(i_end),
                    system, analysis, seeds, hyperparameters, device)


def _from_array(
    X: np.ndarray, start: Any, end: Any, step: Any, system: str, analysis: str,
    seeds: Any, hyperparameters: Any, device: str,
) -> xr.Dataset:
    X = _check_array(X)
    steps = _steps(step, X.shape[0])
    theta_start, theta_end, start_label, end_label = _array_endpoints(X, start, end)
    out, length = _project_rows(X, theta_start, theta_end)
    return _dataset(out, steps, length, start_label, end_label, system, analysis, seeds,
                    hyperparameters, device)


def _steps(step: Any, n: int) -> np.ndarray:
    if step is None:
        return np.arange(n)
    steps = np.asarray(step)
    if steps.shape != (n,):
        raise ValueError(f"step must have one entry per parameter vector ({n}), "
                         f"got shape {steps.shape!r}")
    return steps


def _label(index: int | None) -> str:
    return f"index {index}" if index is not None else "given vector"


def _dataset(
    out: Projection, steps: np.ndarray, length: float, start: str, end: str, system: str,
    analysis: str, seeds: Any, hyperparameters: Any, device: str,
) -> xr.Dataset:
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(out.norm > 0, out.residual / out.norm, np.nan)
    ds = results.trajectory_dataset(
        out.projection, out.residual, out.norm, step=steps, extra={"residual_ratio": ratio},
        system=system, analysis=analysis, seeds=seeds, hyperparameters=hyperparameters,
        device=device,
    )
    ds["projection"].attrs["long_name"] = "projection on the start→end axis"
    ds["residual"].attrs["long_name"] = "norm of the residual of the projection"
    ds["norm"].attrs["long_name"] = "parameter norm"
    ds["residual_ratio"].attrs["long_name"] = "residual norm / parameter norm"
    ds.attrs.update(axis_length=length, start=start, end=end)
    return ds
