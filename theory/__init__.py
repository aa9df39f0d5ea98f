"""Exact counterparts of the landscape analyses, in closed form and without PyTorch.

:mod:`theory.deep_linear`
    Deep linear regression (Goodfellow et al. 2015, §5, Figs. 9–10): the loss along any
    line as an exact polynomial, barriers, stationary points, and the gradient-flow
    solution and trajectory from the conserved quantity w1² − w2².
:mod:`theory.random_walk`
    The Gaussian random-walk baseline of Appendix B (Fig. 11): exact expectations of
    projection and residual at finite dimension, their high-dimensional limit, seeded
    Monte Carlo, and walks with step sizes matched to a real trajectory.
:mod:`theory.quadratic`
    Gradient descent with momentum on a convex quadratic (Fig. 12), solved exactly per
    eigendirection.
:mod:`theory.hessian`
    The exact Hessian of the deep linear losses (sympy, per depth) and of the quadratic:
    eigenvalues, trace, spectral density moments and curvature along every line.

Every analysis returns the :mod:`landscapes.results` schema, so theory and measurement
overlay with no special cases. Nothing here imports torch.
"""

from __future__ import annotations

from theory import deep_linear, hessian, quadratic, random_walk

__all__ = ["deep_linear", "random_walk", "quadratic", "hessian"]
