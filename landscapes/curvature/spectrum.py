"""The :class:`Spectrum` point measure: eigenvalues, trace and density at a point.

One object of settings, evaluated on a :class:`~landscapes.engine.point_measures.PointContext`
(one point, one split): the engine calls it at every point of a path, and the public
functions of :mod:`landscapes.curvature` at the single point they build. Each block of
parameters (all of them by default) gets its own Hessian H_BB (the other parameters
held at the point's values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from landscapes.curvature.density import MOMENTS, broaden, default_grid, quadrature
from landscapes.curvature.hvp import Operator
from landscapes.curvature.lanczos import WHICH, eigenpairs
from landscapes.curvature.objective import OBJECTIVES, Objective, block_groups
from landscapes.curvature.trace import METHODS, estimate_trace
from landscapes.engine.point_measures import PointContext, Variable

__all__ = ["Spectrum", "Along", "check_settings", "sub_seed"]

_SEEDS = {"eigen": 0, "trace": 1, "density": 2}


def sub_seed(seed: int, role: str) -> int:
    """The seed of one estimator, so that each draws its own vectors from ``seed``."""
    return int(np.random.SeedSequence([seed, _SEEDS[role]]).generate_state(1)[0])


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def check_settings(s: Spectrum) -> None:
    """Raise one clear ``ValueError`` for the first setting out of range."""
    _positive_int("k", s.k)
    if s.which not in (*WHICH, None):
        raise ValueError(f"unknown which {s.which!r}; choose from {[*WHICH, None]}")
    if s.trace not in (*METHODS, None):
        raise ValueError(f"unknown trace method {s.trace!r}; choose from {[*METHODS, None]}")
    if s.objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {s.objective!r}; choose from {list(OBJECTIVES)}")
    _positive("tol", s.tol)
    _positive_int("max_iter", s.max_iter)
    _positive("trace_tol", s.trace_tol)
    _positive_int("trace_probes", s.trace_probes)
    _positive_int("trace_block", s.trace_block)
    _positive_int("trace_sketch", s.trace_sketch)
    _positive_int("density_probes", s.density_probes)
    _positive_int("density_steps", s.density_steps)
    grid = s.density_grid
    if isinstance(grid, tuple):
        if len(grid) != 3 or not grid[0] < grid[1]:
            raise ValueError(f"density_grid must be a number of points or (low, high, points), got {grid!r}")
        _positive_int("density_grid's points", grid[2])
    else:
        _positive_int("density_grid", grid)
    if s.density_sigma is not None:
        _positive("density_sigma", s.density_sigma)
    if s.blocks is not None and (isinstance(s.blocks, str) or not all(isinstance(b, str) for b in s.blocks)):
        raise ValueError(f"blocks must be None or a tuple of parameter or module names, got {s.blocks!r}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {s.seed!r}")


@dataclass(frozen=True)
class Spectrum:
    """Hessian eigenvalues, trace and spectral density at each point (a PointMeasure).

    Parameters
    ----------
    k : int
        Eigenvalues at each wanted end.
    which : {"largest", "smallest", "both"} or None
        Which end(s) of the spectrum (algebraically: "smallest" is the most negative
        curvature where H is indefinite); ``None``: no eigenvalues.
    trace : {"hutch++", "hutchinson"} or None
        Trace estimator, or none.
    density : bool
        Also the spectral density (stochastic Lanczos quadrature) and its moments.
    tol, max_iter
        Lanczos stopping rule: relative residual ‖Hy − θy‖ ≤ tol·‖H‖, at most
        ``max_iter`` steps.
    trace_tol, trace_probes, trace_block, trace_sketch
        Trace stopping rule: standard error ≤ trace_tol·abs(trace), at most
        ``trace_probes`` products, drawn ``trace_block`` at a time; Hutch++'s sketch size.
    density_probes, density_steps
        SLQ probes n_v and Lanczos steps m per probe.
    density_grid : int or (float, float, int)
        Points of the density grid spanning each point's Ritz values (the grid's values
        are then the variable ``spectral_grid``), or a fixed ``(low, high, points)``
        grid, the same at every point (the ``spectrum`` coordinate).
    density_sigma : float, optional
        Gaussian width σ; default a hundredth of the Ritz values' spread.
    blocks : tuple of str, optional
        Parameter or module names, one Hessian block each (a ``block`` dimension).
    objective : {"eval", "train"}
        Batch norm in eval mode at the point's statistics, or the train-mode objective
        (batch statistics): :mod:`landscapes.curvature.objective`.
    seed : int
        With the point's seed, the seed of every random vector.
    """

    k: int = 1
    which: str | None = "both"
    trace: str | None = "hutch++"
    density: bool = False
    tol: float = 1e-3
    max_iter: int = 100
    trace_tol: float = 1e-2
    trace_probes: int = 200
    trace_block: int = 10
    trace_sketch: int = 10
    density_probes: int = 4
    density_steps: int = 64
    density_grid: int | tuple[float, float, int] = 200
    density_sigma: float | None = None
    blocks: tuple[str, ...] | None = None
    objective: str = "eval"
    seed: int = 0
    name: str = "spectrum"

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        check_settings(self)

    def settings(self) -> dict[str, Any]:
        """The settings, for a dataset's hyperparameters."""
        return asdict(self)

    def _lead(self) -> tuple[str, ...]:
        return ("block",) if self.blocks is not None else ()

    def variables(self) -> dict[str, Variable]:
        lead = self._lead()
        how = {"objective": self.objective}
        out: dict[str, Variable] = {}
        lanczos = {"method": "Lanczos, full re-orthogonalisation", "tol": self.tol, "max_iter": self.max_iter}
        ends = {"largest": ("top", "largest"), "smallest": ("bottom", "smallest")}
        for end, (prefix, word) in ends.items():
            if self.which in (end, "both"):
                out[f"{prefix}_eigenvalue"] = Variable(lead + ("eigen",), {
                    "long_name": f"{word} Hessian eigenvalues", **lanczos, **how})
                out[f"{prefix}_residual"] = Variable(lead + ("eigen",), {
                    "long_name": f"residual ‖Hv − λv‖ of the {word} eigenpairs (unit v)"})
        if self.which is not None:
            out["lanczos_iterations"] = Variable(lead, {"long_name": "Lanczos steps", **lanczos})
            out["lanczos_converged"] = Variable(lead, {"long_name": "1 where the Lanczos tolerance was met"})
        if self.trace is not None:
            out["hessian_trace"] = Variable(lead, {
                "long_name": "Hessian trace", "method": self.trace, "tol": self.trace_tol,
                "max_probes": self.trace_probes, **how})
            out["trace_stderr"] = Variable(lead, {"long_name": "standard error of the trace estimate"})
            out["trace_products"] = Variable(lead, {"long_name": "Hessian-vector products of the trace"})
        if self.density:
            slq = {"method": "stochastic Lanczos quadrature (Ghorbani et al. 2019)",
                   "probes": self.density_probes, "steps": self.density_steps}
            out["spectral_density"] = Variable(lead + ("spectrum",), {
                "long_name": "Gaussian-broadened spectral density", **slq})
            if not isinstance(self.density_grid, tuple):
                out["spectral_grid"] = Variable(lead + ("spectrum",), {"long_name": "eigenvalue at each grid point"})
            out["density_sigma"] = Variable(lead, {"long_name": "Gaussian width σ of the density"})
            out["density_moment"] = Variable(lead + ("moment",), {
                "long_name": "(1/P) tr H^j estimated by SLQ", **slq})
            out["moment_stderr"] = Variable(lead + ("moment",), {"long_name": "standard error over probes"})
        return out

    def coords(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.which is not None:
            out["eigen"] = np.arange(self.k)
        if self.density:
            grid = self.density_grid
            out["spectrum"] = np.linspace(*grid) if isinstance(grid, tuple) else np.arange(grid)
            out["moment"] = np.array(MOMENTS)
        if self.blocks is not None:
            out["block"] = np.array(self.blocks, dtype=object)
        return out

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        """Every variable at ``point`` (see :meth:`variables`)."""
        every = Objective(point, self.objective)
        groups = block_groups(every.all_names, self.blocks)
        per = [self._one(Objective(point, self.objective, names), point.seed) for names in groups.values()]
        if self.blocks is None:
            return per[0]
        return {k: np.stack([p[k] for p in per]) for k in per[0]}

    def _one(self, objective: Objective, point_seed: int) -> dict[str, np.ndarray]:
        op = Operator(objective)
        seed = int(np.random.SeedSequence([self.seed, point_seed]).generate_state(1)[0])
        out: dict[str, np.ndarray] = {}
        if self.which is not None:
            found = eigenpairs(op.matvec, op.size, k=self.k, which=self.which, tol=self.tol,
                               max_iter=self.max_iter, seed=sub_seed(seed, "eigen"), dtype=op.dtype,
                               device=op.device, vectors=False)
            for end, prefix in (("largest", "top"), ("smallest", "bottom")):
                if end in found:
                    out[f"{prefix}_eigenvalue"] = _pad(found[end].values, self.k)
                    out[f"{prefix}_residual"] = _pad(found[end].residuals, self.k)
            first = next(iter(found.values()))
            out["lanczos_iterations"] = np.asarray(first.iterations, dtype=float)
            out["lanczos_converged"] = np.asarray(float(first.converged))
        if self.trace is not None:
            t = estimate_trace(op.matvec, op.size, method=self.trace, tol=self.trace_tol,
                               max_probes=self.trace_probes, block=self.trace_block,
                               sketch=self.trace_sketch, seed=sub_seed(seed, "trace"),
                               dtype=op.dtype, device=op.device)
            out["hessian_trace"] = np.asarray(t.value)
            out["trace_stderr"] = np.asarray(t.stderr)
            out["trace_products"] = np.asarray(float(t.products))
        if self.density:
            q = quadrature(op.matvec, op.size, probes=self.density_probes, steps=self.density_steps,
                           seed=sub_seed(seed, "density"), dtype=op.dtype, device=op.device)
            grid = self.density_grid
            if isinstance(grid, tuple):
                values = np.linspace(*grid)
                _, sigma = default_grid(q, 2, self.density_sigma)
            else:
                values, sigma = default_grid(q, grid, self.density_sigma)
                out["spectral_grid"] = values
            out["spectral_density"] = broaden(q, values, sigma)
            out["density_sigma"] = np.asarray(sigma)
            out["density_moment"], out["moment_stderr"] = q.moments()
        return out


def _pad(values: np.ndarray, k: int) -> np.ndarray:
    # A block with fewer than k parameters has fewer than k eigenvalues.
    out = np.full(k, np.nan)
    out[: len(values)] = values
    return out


@dataclass(frozen=True)
class Along:
    """Curvature vᵀHv/‖v‖² along fixed directions at each point (a PointMeasure).

    Parameters
    ----------
    directions : tuple of dict of str to tensor
        Directions shaped like the state (entries that are not trainable parameters,
        such as running statistics, are ignored; a tied tensor is read under its
        first name).
    objective : {"eval", "train"}
    """

    directions: tuple[dict[str, torch.Tensor], ...]
    objective: str = "eval"
    name: str = "along"

    def variables(self) -> dict[str, Variable]:
        return {"curvature_along": Variable(("direction",), {
            "long_name": "curvature vᵀHv/‖v‖² along each direction", "objective": self.objective})}

    def coords(self) -> dict[str, Any]:
        return {"direction": np.arange(len(self.directions))}

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        objective = Objective(point, self.objective)
        op = Operator(objective)
        v = torch.stack([_flat_direction(objective, d) for d in self.directions])
        hv = op.matvec(v)
        num = (v * hv).sum(dim=1).double()
        den = (v * v).sum(dim=1).double()
        if (den == 0).any():
            raise ValueError("a direction is zero on every trainable parameter; its curvature is undefined")
        return {"curvature_along": (num / den).cpu().numpy()}


def _flat_direction(objective: Objective, direction: dict[str, torch.Tensor]) -> torch.Tensor:
    missing = [n for n in objective.names if n not in direction]
    if missing:
        raise ValueError(f"direction lacks parameter {missing[0]!r}; give a dict shaped like the state_dict")
    parts = []
    for n, shape in zip(objective.names, objective.shapes):
        t = direction[n]
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"direction entry {n!r} has shape {tuple(t.shape)!r}, the parameter {tuple(shape)!r}")
        parts.append(t.detach().reshape(-1).to(objective.device, objective.dtype))
    return torch.cat(parts)
