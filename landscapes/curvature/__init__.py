"""Curvature of the loss: Hessian eigenvalues, trace, spectral density, directions.

The Hessian H = ∇²L(θ) of the *full-data* loss L(θ) = (1/N) Σₙ ℓ(f(xₙ; θ), yₙ) (every
batch, weighted by its size, as :func:`landscapes.evaluate` averages) with respect to the
model's trainable parameters, at a point θ (a state dict, default the model's own
weights), never formed: every estimator only multiplies vectors by it
(:mod:`landscapes.curvature.hvp`, forward or reverse over reverse).

- :func:`eigenvalues` -- the top or bottom k eigenpairs by Lanczos with full
  re-orthogonalisation (:mod:`~landscapes.curvature.lanczos`), residuals and stopping
  rule recorded;
- :func:`trace` -- Hutchinson or Hutch++ with a standard error (:mod:`~landscapes.curvature.trace`);
- :func:`density` -- the spectral density by stochastic Lanczos quadrature
  (Ghorbani et al. 2019; :mod:`~landscapes.curvature.density`) with moments 1..4;
- :func:`along` -- the curvature vᵀHv/‖v‖² along directions;
- :func:`hvp` -- Hessian-vector products themselves;
- :func:`directions`, :func:`line`, :func:`plane` -- eigenvectors as directions for
  :mod:`landscapes.paths` (:mod:`~landscapes.curvature.eigenvectors`);
- :class:`Spectrum`, :class:`Along` -- the same as point measures that the engine
  evaluates at every point of a path (:mod:`landscapes.engine.point_measures`).

Batch norm is explicit (``bn``): ``"interpolate"`` (eval mode at the point's running
statistics), ``"recompute"`` (eval mode at statistics re-estimated at the point, as
:func:`landscapes.evaluate` does) or ``"train"`` (the train-mode objective: each batch
normalised by its own statistics, so H depends on the batch size). Every dataset
records the choice in its ``hyperparameters``.
"""

from __future__ import annotations

from landscapes.curvature.context import BN_CHOICES
from landscapes.curvature.lanczos import WHICH
from landscapes.curvature.spectrum import Along, Spectrum
from landscapes.curvature.trace import METHODS

# Last: the functions trace, density and hvp replace their submodules' attributes here.
from landscapes.curvature.eigenvectors import directions, line, plane
from landscapes.curvature.estimators import along, density, eigenvalues, hvp, trace

__all__ = [
    "eigenvalues", "trace", "density", "along", "hvp", "directions", "line", "plane",
    "Spectrum", "Along", "BN_CHOICES", "WHICH", "METHODS",
]
