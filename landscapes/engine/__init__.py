"""The evaluation engine: loss and error of any model at every point of a path.

:func:`evaluate` costs close to the arithmetic a path really needs:

- **Batched points.** Points are evaluated in chunks whose parameters are stacked
  along a leading point dimension (formed from the anchors directly: no
  ``load_state_dict``, no model copies); the model runs once per data batch for the
  whole chunk under :func:`torch.vmap` of :func:`torch.func.functional_call`. Data
  batches are the outer loop: each is moved to the device once and shared by every
  chunk.
- **First-layer reuse.** Every point is θ_p = Σ_k C[p, k]·θ_k, so a first layer that
  is ``nn.Linear`` or ``nn.Conv1d/2d/3d`` has the pre-activation
  z_p = Σ_k C[p, k]·(W_k u + b_k): the anchors' outputs are computed once per batch
  and combined per point, and only the rest of the network runs per point.
- **Bounded memory.** The chunk size comes from a memory budget
  (:mod:`landscapes.engine.memory`): whole batches of examples first, then as many points
  as fit.
- **CPU specifics.** On CPU, conv nets run point after point (vmap would turn their
  convolutions into slower grouped ones) with images in channels-last layout where
  the model's outputs stay the same; while the engine runs, glibc keeps freed memory
  mapped instead of faulting it in again for every chunk (:mod:`landscapes.engine.glibc_heap`).
- **Batch norm folded.** For evaluation passes, every convolution followed by batch
  norm runs as one convolution with the batch norm folded into its weights, per
  point (:mod:`landscapes.engine.fusion`); under bfloat16 on CPU, oneDNN applies the
  ReLU and residual addition after it inside the convolution too.
- **Batch norm recompute** gathers the statistics of every point in one pass over
  the recompute batches, in the asked precision.
- **Models as they come.** A dict or tuple output is read with ``output=``
  (:mod:`landscapes.engine.outputs`) inside the vmapped pass; tied parameters are
  interpolated once (:mod:`landscapes.engine.tied`); anchors and floating-point
  inputs take the model's dtypes.
- **Point measures.** :func:`measure` (or ``evaluate(measures=...)``) runs measures
  that need the parameters at each point, not only the outputs (a gradient norm,
  Hessian-vector products), through one seam: :mod:`landscapes.engine.point_measures`.
- **Sessions.** Inside :func:`session`, repeated calls on the same model, anchors and
  data reuse the probes and the anchors' first-layer outputs.

Where vmap or reuse does not apply (a module vmap cannot run, a first layer of
another kind, an input that depends on the parameters), the engine falls back to the
plain per-point loop or to the full forward pass and says why in a debug message of
the ``landscapes.engine`` logger. Either way the numbers equal the per-point loop's
up to floating-point rounding.
"""

from __future__ import annotations

from landscapes.devices import resolve_device
from landscapes.engine.evaluation import DIVERGENCES, PRECISIONS, classification_error, evaluate
from landscapes.engine.point_measures import PointContext, PointMeasure, Variable
from landscapes.engine.point_sweep import measure
from landscapes.engine.session import session

__all__ = ["evaluate", "measure", "session", "resolve_device", "classification_error", "DIVERGENCES",
           "PRECISIONS", "PointContext", "PointMeasure", "Variable"]
