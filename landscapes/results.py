"""The one results schema shared by theory and experiments.

Every analysis in ``landscapes`` -- a closed form from :mod:`theory` or a measurement
by :func:`landscapes.evaluate` -- returns an :class:`xarray.Dataset` in the schema
defined here, so metrics, plots and the compare command never need to know where a
result came from.

Slice datasets (loss along a path or over a plane)
    dimensions
        ``alpha`` (always) and ``beta`` (2-D slices), plus any of the optional
        dimensions ``replicate``, ``split`` (``"train"``/``"test"``),
        ``start_iteration`` and ``system``. Other dimensions are allowed; every metric
        broadcasts over them.
    coordinates
        ``alpha``, ``beta`` (floats), ``distance`` = ‖θ(α) − θ(0)‖ (on ``alpha``, and on
        ``beta`` too for 2-D slices; it may also vary along ``replicate``).
    variables
        ``loss`` (float), ``error`` (fraction in [0, 1]; NaN where undefined, e.g.
        for regression), optional ``divergence`` (functional distance to a reference
        network, Im et al. 2016 §4.1), and any extra user metric. A dataset of point
        measures (:func:`landscapes.engine.measure`) may hold neither ``loss`` nor
        ``error``; its variables then say which measure wrote them (attribute
        ``measure``) and may have dimensions of their own (an ``eigen`` index).

Trajectory datasets (Goodfellow et al. 2015, Appendix B)
    dimension ``step``; variables ``projection``, ``residual``, ``norm``.

Attributes (both kinds)
    ``schema`` (``"landscapes/1"``), ``analysis``, ``system`` and provenance:
    ``landscapes_version``, ``git_commit`` (empty when unknown), ``seeds`` and
    ``hyperparameters`` (JSON objects), ``device``, ``created`` (ISO 8601, UTC).

Several analyses together form an :class:`xarray.DataTree`, one group per analysis,
written as netCDF groups.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "SCHEMA",
    "SLICE_DIMS",
    "OPTIONAL_DIMS",
    "SchemaError",
    "slice_dataset",
    "trajectory_dataset",
    "provenance",
    "validate",
    "combine",
    "save",
    "load",
    "load_tree",
    "atomic_write",
]

#: Identifies files written by this schema; :func:`load` refuses anything else.
SCHEMA = "landscapes/1"
#: Dimensions that label the points of a slice.
SLICE_DIMS = ("alpha", "beta")
#: Dimensions that label independent slices.
OPTIONAL_DIMS = ("replicate", "split", "start_iteration", "system")
#: Variables every slice dataset has.
SLICE_VARIABLES = ("loss", "error")
#: Variables every trajectory dataset has.
TRAJECTORY_VARIABLES = ("projection", "residual", "norm")
#: Attributes every dataset has.
REQUIRED_ATTRS = (
    "schema",
    "analysis",
    "system",
    "landscapes_version",
    "git_commit",
    "seeds",
    "hyperparameters",
    "device",
    "created",
)


class SchemaError(ValueError):
    """A dataset or file does not follow the ``landscapes`` results schema."""


# --------------------------------------------------------------------------- provenance


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("landscapes")
    except PackageNotFoundError:
        return "0+unknown"


@functools.cache
def _git_commit() -> str:
    # Only the checkout the package itself lives in counts; a site-packages install
    # has no commit to report.
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else ""


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars, tuples and paths into JSON-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def provenance(
    *,
    seeds: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> dict[str, str]:
    """Build the provenance attributes every dataset carries.

    Parameters
    ----------
    seeds : mapping, optional
        Every seed that influenced the result, by role (``{"init": 0, "plane": 3}``).
    hyperparameters : mapping, optional
        Every setting that influenced the result. Stored as a JSON object.
    device : str
        Where the numbers were computed (``"cpu"``, ``"cuda:0"``, ``"sympy"``...).

    Returns
    -------
    dict
        ``landscapes_version``, ``git_commit``, ``seeds``, ``hyperparameters``,
        ``device`` and ``created``, all strings so that netCDF can store them.

    Examples
    --------
    >>> attrs = provenance(seeds={"init": 0}, hyperparameters={"lr": 0.1})
    >>> attrs["seeds"]
    '{"init": 0}'
    """
    return {
        "landscapes_version": _version(),
        "git_commit": _git_commit(),
        "seeds": json.dumps(_jsonable(dict(seeds or {})), sort_keys=True),
        "hyperparameters": json.dumps(_jsonable(dict(hyperparameters or {})), sort_keys=True),
        "device": str(device),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------------- constructors


def _header(analysis: str, system: str) -> dict[str, str]:
    for name, value in (("analysis", analysis), ("system", system)):
        if not isinstance(value, str) or not value:
            raise SchemaError(f"{name} must be a non-empty string, got {value!r}")
    return {"schema": SCHEMA, "analysis": analysis, "system": system}


def _as_coords(coords: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (coords or {}).items():
        if isinstance(value, tuple):  # (dims, values) form
            out[name] = value
            continue
        arr = np.asarray(value)
        # Strings as objects so a netCDF round trip gives back the same dtype.
        out[name] = arr.astype(object) if arr.dtype.kind in "US" else arr
    return out


def slice_dataset(
    loss: Any | None,
    *,
    alpha: Sequence[float] | np.ndarray,
    error: Any = None,
    beta: Sequence[float] | np.ndarray | None = None,
    dims: Sequence[str] | None = None,
    coords: Mapping[str, Any] | None = None,
    distance: Any = None,
    extra: Mapping[str, Any] | None = None,
    analysis: str,
    system: str,
    seeds: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> xr.Dataset:
    """Build a slice dataset (loss and error on a path or plane) in the schema.

    Parameters
    ----------
    loss : array_like or None
        Loss at every point, shaped like ``dims``. ``None``: no ``loss`` and no
        ``error`` (a dataset of point measures, whose ``extra`` variables carry the
        attribute ``measure``).
    alpha, beta : array_like
        Path coordinates. ``beta`` makes a 2-D slice.
    error : array_like, optional
        Error fraction in [0, 1] at every point; all NaN when omitted (undefined).
    dims : sequence of str, optional
        Dimension names of ``loss``. Defaults to ``("alpha",)`` or ``("alpha", "beta")``;
        give leading dimensions such as ``("replicate", "alpha")`` for stacks.
    coords : mapping, optional
        Coordinates for the other dimensions, e.g. ``{"replicate": [0, 1, 2]}``.
    distance : array_like, optional
        ‖θ(α) − θ(0)‖ for each point, dims ``("alpha",)`` (or ``("alpha", "beta")``),
        or a ``(dims, values)`` tuple when it varies along other dimensions.
    extra : mapping, optional
        Further variables (``divergence``, user metrics), shaped like ``loss``, or
        ``(dims, values)`` or ``(dims, values, attrs)`` tuples for variables with
        dimensions of their own.
    analysis, system : str
        What was computed (``"init_to_final"``) and on what (``"mnist_mlp"``).
    seeds, hyperparameters, device
        Provenance, see :func:`provenance`.

    Returns
    -------
    xarray.Dataset
        A dataset that passes :func:`validate`.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, 1, 5)
    >>> ds = slice_dataset((1 - a) ** 2, alpha=a, analysis="demo", system="toy")
    >>> ds.loss.dims
    ('alpha',)
    >>> bool(ds.error.isnull().all())
    True
    """
    alpha = np.asarray(alpha, dtype=float)
    default_dims = ("alpha",) if beta is None else ("alpha", "beta")
    dims = tuple(dims) if dims is not None else default_dims
    for d in default_dims:
        if d not in dims:
            raise SchemaError(f"dims {dims!r} must contain {d!r}")
    if beta is None and "beta" in dims:
        raise SchemaError("dims name 'beta' but no beta coordinate was given")
    if loss is None and error is not None:
        raise SchemaError("error was given without a loss; give both, or neither for point measures")
    if loss is not None:
        loss = np.asarray(loss, dtype=float)
        if loss.ndim != len(dims):
            raise SchemaError(f"loss has {loss.ndim} dimensions but dims is {dims!r}")
        error = np.full(loss.shape, np.nan) if error is None else np.asarray(error, dtype=float)
    all_coords = _as_coords(coords)
    all_coords["alpha"] = alpha
    if beta is not None:
        all_coords["beta"] = np.asarray(beta, dtype=float)
    if distance is not None:
        if isinstance(distance, tuple):
            all_coords["distance"] = (distance[0], np.asarray(distance[1], dtype=float))
        else:
            all_coords["distance"] = (default_dims, np.asarray(distance, dtype=float))
    data_vars: dict[str, Any] = {} if loss is None else {"loss": (dims, loss), "error": (dims, error)}
    for name, values in (extra or {}).items():
        if name in data_vars:
            raise SchemaError(f"extra variable {name!r} would overwrite {name!r}")
        if isinstance(values, tuple):  # (dims, values[, attrs]): dimensions of its own
            data_vars[name] = (tuple(values[0]), np.asarray(values[1], dtype=float), *values[2:])
        else:
            data_vars[name] = (dims, np.asarray(values, dtype=float))
    attrs = _header(analysis, system)
    attrs.update(provenance(seeds=seeds, hyperparameters=hyperparameters, device=device))
    ds = xr.Dataset(data_vars, coords=all_coords, attrs=attrs)
    if loss is not None:
        ds["loss"].attrs["long_name"] = "loss"
        ds["error"].attrs.update(long_name="error", units="fraction")
    return validate(ds)


def trajectory_dataset(
    projection: Any,
    residual: Any,
    norm: Any,
    *,
    step: Sequence[int] | np.ndarray,
    dims: Sequence[str] | None = None,
    coords: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    analysis: str = "trajectory",
    system: str,
    seeds: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> xr.Dataset:
    """Build a trajectory dataset (Goodfellow et al. 2015, Appendix B) in the schema.

    Parameters
    ----------
    projection, residual, norm : array_like
        Per step: the scalar projection of θ_t − θ_start on the unit start→end axis,
        the norm of what that projection leaves out, and ‖θ_t‖.
    step : array_like of int
        Training step of each row.
    dims, coords
        As in :func:`slice_dataset`; ``dims`` must contain ``"step"``.
    extra : mapping, optional
        Further per-step variables.
    analysis, system, seeds, hyperparameters, device
        See :func:`slice_dataset`.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> ds = trajectory_dataset([0, 1], [0, 0], [1, 2], step=[0, 10], system="toy")
    >>> ds.projection.dims
    ('step',)
    """
    dims = tuple(dims) if dims is not None else ("step",)
    if "step" not in dims:
        raise SchemaError(f"dims {dims!r} must contain 'step'")
    all_coords = _as_coords(coords)
    all_coords["step"] = np.asarray(step)
    data_vars: dict[str, Any] = {
        name: (dims, np.asarray(values, dtype=float))
        for name, values in (("projection", projection), ("residual", residual), ("norm", norm))
    }
    for name, values in (extra or {}).items():
        data_vars[name] = (dims, np.asarray(values, dtype=float))
    attrs = _header(analysis, system)
    attrs.update(provenance(seeds=seeds, hyperparameters=hyperparameters, device=device))
    return validate(xr.Dataset(data_vars, coords=all_coords, attrs=attrs))


# ---------------------------------------------------------------------------- validation


def _kind(ds: xr.Dataset) -> str:
    if "step" in ds.dims and all(v in ds.data_vars for v in TRAJECTORY_VARIABLES):
        return "trajectory"
    return "slice"


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` follows the results schema and return it unchanged.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    xarray.Dataset
        The same object, for chaining.

    Raises
    ------
    SchemaError
        Naming the first problem found: a missing attribute, dimension or variable,
        an error fraction outside [0, 1], or an unknown schema tag.

    Examples
    --------
    >>> import xarray as xr
    >>> validate(xr.Dataset())
    Traceback (most recent call last):
    ...
    landscapes.results.SchemaError: not a landscapes dataset: attribute 'schema' is missing ...
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    if "schema" not in ds.attrs:
        raise SchemaError(
            "not a landscapes dataset: attribute 'schema' is missing "
            "(build datasets with landscapes.results.slice_dataset or trajectory_dataset)"
        )
    if ds.attrs["schema"] != SCHEMA:
        raise SchemaError(
            f"unsupported schema {ds.attrs['schema']!r}; this version reads {SCHEMA!r}"
        )
    for name in REQUIRED_ATTRS:
        if name not in ds.attrs:
            raise SchemaError(f"attribute {name!r} is missing; required: {list(REQUIRED_ATTRS)}")
    for name in ("seeds", "hyperparameters"):
        try:
            parsed = json.loads(ds.attrs[name])
        except (TypeError, json.JSONDecodeError) as exc:
            raise SchemaError(f"attribute {name!r} is not a JSON object: {exc}") from None
        if not isinstance(parsed, dict):
            raise SchemaError(f"attribute {name!r} must be a JSON object, got {parsed!r}")
    if _kind(ds) == "trajectory":
        return ds
    if "alpha" not in ds.dims:
        raise SchemaError(
            f"a slice dataset needs an 'alpha' dimension, found dims {tuple(ds.dims)!r}; "
            f"a trajectory dataset needs 'step' and variables {list(TRAJECTORY_VARIABLES)}"
        )
    present = [name for name in SLICE_VARIABLES if name in ds.data_vars]
    if not present:
        _check_measures(ds)
        return ds
    for name in SLICE_VARIABLES:
        if name not in ds.data_vars:
            raise SchemaError(f"variable {name!r} is missing; required: {list(SLICE_VARIABLES)}")
    err = ds["error"].values
    finite = err[~np.isnan(err)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise SchemaError(
            f"error must be a fraction in [0, 1] (NaN where undefined); "
            f"found values in [{finite.min()!r}, {finite.max()!r}]"
        )
    return ds


def _check_measures(ds: xr.Dataset) -> None:
    """A slice dataset without loss and error must be one of point measures: at least
    one variable over the path that names its measure, none over the path that does not."""
    over = [name for name, v in ds.data_vars.items() if "alpha" in v.dims]
    if not over:
        raise SchemaError(
            f"a slice dataset needs variables {list(SLICE_VARIABLES)}, or the variables of a "
            f"point measure (over 'alpha', with attribute 'measure'); found "
            f"{sorted(map(str, ds.data_vars))!r}"
        )
    anonymous = [str(name) for name in over if "measure" not in ds[name].attrs]
    if anonymous:
        raise SchemaError(
            f"variables {list(SLICE_VARIABLES)} are missing; a dataset of point measures may "
            f"leave them out, but then every variable over 'alpha' names its measure in the "
            f"attribute 'measure', which {anonymous!r} do not"
        )


# ----------------------------------------------------------------------------- combining


def combine(
    datasets: Sequence[xr.Dataset],
    dim: str,
    values: Sequence[Any] | None = None,
    join: str = "exact",
) -> xr.Dataset:
    """Stack datasets of one analysis along a new dimension (``replicate``, ``system``...).

    Each dataset's ``seeds`` are kept in a JSON list under ``seeds``, and so are the
    ``hyperparameters`` when they differ, so the stacked file still says how every
    slice was made; ``device`` and ``system`` list the distinct values, comma-separated.
    Other attributes come from the first dataset.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Valid datasets with identical coordinates on their shared dimensions.
    dim : str
        Name of the new dimension.
    values : sequence, optional
        Its coordinate values; defaults to ``0, 1, ...``.
    join : {"exact", "outer"}
        ``"exact"`` (default) refuses datasets whose coordinates differ; ``"outer"``
        takes the union of the coordinates and fills the gaps with NaN (systems with
        different start iterations or trajectory steps).

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, 1, 3)
    >>> parts = [slice_dataset(a * r, alpha=a, analysis="demo", system="toy",
    ...                        seeds={"init": r}) for r in range(2)]
    >>> combine(parts, "replicate").loss.dims
    ('replicate', 'alpha')
    """
    if not datasets:
        raise ValueError("combine needs at least one dataset")
    if join not in ("exact", "outer"):
        raise ValueError(f"join must be 'exact' or 'outer', got {join!r}")
    for ds in datasets:
        validate(ds)
    values = list(range(len(datasets))) if values is None else list(values)
    if len(values) != len(datasets):
        raise ValueError(f"{len(values)} values for {len(datasets)} datasets along {dim!r}")
    out = xr.concat(
        list(datasets),
        dim=xr.DataArray(_as_coords({dim: values})[dim], dims=dim, name=dim),
        combine_attrs="override",
        coords="different",
        compat="equals",
        join=join,
        data_vars="all",
    )
    seeds = [json.loads(ds.attrs["seeds"]) for ds in datasets]
    out.attrs["seeds"] = json.dumps({dim: seeds}, sort_keys=True)
    # Provenance that differs between the parts (systems of a comparison: a closed
    # form and a trained network) is kept for each, never only the first's.
    hyper = [json.loads(ds.attrs["hyperparameters"]) for ds in datasets]
    if any(h != hyper[0] for h in hyper):
        out.attrs["hyperparameters"] = json.dumps({dim: hyper}, sort_keys=True)
    for key in ("device", "system", "git_commit", "landscapes_version"):
        distinct = list(dict.fromkeys(str(ds.attrs[key]) for ds in datasets))
        out.attrs[key] = ", ".join(distinct)
    return validate(out)


# ----------------------------------------------------------------------------- save/load


#: netCDF and HDF5 are not thread-safe: this process reads and writes one file at a time
#: (a study on a cluster reads and writes its cache from several threads).
NETCDF_LOCK = threading.RLock()


def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(tmp)`` on a temp file in the same folder, then rename it to ``path``.

    A crash or Ctrl-C mid-write leaves the previous file (or none), never half a file.
    The file gets the mode a plain ``open(path, "w")`` would give it (0666 less the
    umask), and a failed write names ``path`` in its :class:`OSError`, not the temp file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write(target, lambda tmp: Path(tmp).write_text("done"))
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        # mkstemp makes the file 0600 so no one reads it half-written; once whole it
        # gets the ordinary mode. After write(): some writers recreate the file.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and _is_temp(exc.filename, path):
            # The constructor picks the subclass (PermissionError, ...) from errno.
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise


def _is_temp(filename: Any, path: Path) -> bool:
    """Whether an error's file is unnamed or one of ``path``'s temp files."""
    if filename is None:
        return True
    name = Path(os.fsdecode(filename))
    return name.parent == path.parent and name.name.startswith(f".{path.name}.")


def _umask() -> int:
    """The process's umask, read without changing it where the kernel tells it (not
    cached: a program may change its umask)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def save(obj: xr.Dataset | xr.DataTree | Mapping[str, xr.Dataset], path: str | os.PathLike) -> Path:
    """Write a dataset, or several as a tree of netCDF groups, atomically.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataTree or mapping of name to Dataset
        A mapping becomes a :class:`xarray.DataTree` with one group per entry.
    path : str or path-like
        Destination ``.nc`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> a = np.linspace(0, 1, 3)
    >>> ds = slice_dataset(a, alpha=a, analysis="demo", system="toy")
    >>> out = save(ds, os.path.join(tempfile.mkdtemp(), "demo.nc"))
    >>> load(out).identical(ds)
    True
    """
    path = Path(path)
    if isinstance(obj, Mapping) and not isinstance(obj, xr.Dataset):
        obj = xr.DataTree.from_dict({f"/{k}": v for k, v in obj.items()})
    if isinstance(obj, xr.DataTree):
        for node in obj.subtree:
            if node.has_data:
                validate(node.to_dataset())
        with NETCDF_LOCK:
            atomic_write(path, lambda tmp: obj.to_netcdf(tmp, engine="netcdf4"))
    elif isinstance(obj, xr.Dataset):
        validate(obj)
        with NETCDF_LOCK:
            atomic_write(path, lambda tmp: obj.to_netcdf(tmp, engine="netcdf4"))
    else:
        raise TypeError(
            f"save takes an xarray.Dataset, an xarray.DataTree or a dict of datasets, "
            f"got {type(obj).__name__}"
        )
    return path


def _open_error(path: Path, exc: Exception) -> SchemaError:
    return SchemaError(
        f"cannot read {str(path)!r} as a landscapes results file "
        f"({type(exc).__name__}: {exc}); it may be truncated or not netCDF"
    )


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a dataset written by :func:`save` and check its schema.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    xarray.Dataset
        Fully loaded into memory; the file is closed.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    SchemaError
        If the file is corrupted, is not netCDF, holds groups (use :func:`load_tree`)
        or is not a ``landscapes`` dataset.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    try:
        with NETCDF_LOCK, xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise _open_error(path, exc) from exc
    if "schema" not in ds.attrs:
        try:
            with NETCDF_LOCK:
                groups = list(xr.open_groups(path, engine="netcdf4"))
        except (OSError, ValueError, RuntimeError):
            groups = []
        if len(groups) > 1:
            raise SchemaError(
                f"{str(path)!r} holds several analyses as groups {groups[1:]!r}; "
                "read it with landscapes.results.load_tree"
            )
    return validate(ds)


def load_tree(path: str | os.PathLike) -> xr.DataTree:
    """Read a tree of analyses written by :func:`save` and check every group.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    xarray.DataTree
        Fully loaded into memory; the file is closed.

    Raises
    ------
    FileNotFoundError, SchemaError
        As :func:`load`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    try:
        with NETCDF_LOCK, xr.open_datatree(path, engine="netcdf4") as tree:
            tree = tree.load()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise _open_error(path, exc) from exc
    found = False
    for node in tree.subtree:
        if node.has_data:
            validate(node.to_dataset())
            found = True
    if not found:
        raise SchemaError(f"{str(path)!r} holds no landscapes datasets")
    return tree
