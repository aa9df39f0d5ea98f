"""Reading a model's output: the tensor that losses, errors and metrics receive.

Many models return more than one tensor: Hugging Face models a dict (a ``ModelOutput``)
with ``"logits"`` among other entries, others a ``(logits, aux)`` tuple. The ``output``
argument of :func:`landscapes.evaluate` says which tensor is *the* output:

- ``None`` -- the model returns a tensor; anything else is an error that shows what it
  returned and how to choose;
- a ``str`` -- a key of a dict (or any mapping), or an attribute of a named tuple or
  dataclass;
- an ``int`` -- an index into a tuple or list (or a ``ModelOutput``);
- a callable -- ``output(model_output)`` returns the tensor.

That tensor is what the built-in loss and error, torch's own losses and the
divergence receive. A ``loss_fn``, error or metric of the user's own receives what
the model returns, as it is (:func:`landscapes.engine.measures.takes_tensor` tells
the two apart).

The reader runs inside the engine's vmapped forward pass, so only the chosen tensor
is stacked over the points when no measure of the user's needs the whole output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

__all__ = ["Output", "check_output", "describe", "label", "reader"]

#: What ``output=`` accepts.
Output = str | int | Callable[[Any], torch.Tensor] | None

def check_output(output: Any) -> None:
    """Raise ``TypeError`` unless ``output`` is ``None``, a str, an int or a callable."""
    if output is None or callable(output) or isinstance(output, str):
        return
    if isinstance(output, int) and not isinstance(output, bool):
        return
    raise TypeError(
        f"output must be a key (str), an index (int), a callable output(model_output) -> "
        f"tensor, or None for a model that returns a tensor; got {output!r}"
    )


def label(output: Output) -> str | int | None:
    """How the choice is recorded in a dataset's hyperparameters."""
    if output is None or isinstance(output, (str, int)):
        return output
    return getattr(output, "__name__", None) or type(output).__name__


def _entry(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"Tensor {tuple(value.shape)!r} {str(value.dtype).removeprefix('torch.')}"
    return type(value).__name__


def describe(value: Any) -> str:
    """What a model returned, in a few words: the type, and keys or length with types.

    Examples
    --------
    >>> import torch
    >>> describe({"logits": torch.zeros(8, 3), "aux": None})
    "a dict with keys ['logits' (Tensor (8, 3) float32), 'aux' (NoneType)]"
    >>> describe((torch.zeros(2), 1.5))
    'a tuple of 2: (Tensor (2,) float32, float)'
    """
    kind = type(value).__name__
    if isinstance(value, Mapping):
        items = ", ".join(f"{k!r} ({_entry(v)})" for k, v in list(value.items())[:8])
        more = ", ..." if len(value) > 8 else ""
        return f"a {kind} with keys [{items}{more}]"
    if isinstance(value, (tuple, list)):
        items = ", ".join(_entry(v) for v in value[:8])
        more = ", ..." if len(value) > 8 else ""
        return f"a {kind} of {len(value)}: ({items}{more})"
    if isinstance(value, torch.Tensor):
        return f"a {_entry(value)}"
    return f"a {kind}"


def _tensor(value: Any, how: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{how} gave {describe(value)}; it must give a tensor")
    return value


def _as_is(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        keys = [k for k, v in out.items() if isinstance(v, torch.Tensor)]
        key = "logits" if "logits" in keys else keys[0] if keys else "key"
        example = f"output={key!r}) to read that key"
    elif isinstance(out, Sequence) and not isinstance(out, str):
        index = next((i for i, v in enumerate(out) if isinstance(v, torch.Tensor)), 0)
        example = f"output={index}) to take entry {index}"
    else:
        example = "output=lambda out: out.logits)"
    raise TypeError(
        f"the model returned {describe(out)}, not a tensor; say which tensor is its output, "
        f"e.g. evaluate(..., {example}; output= takes a key (str), an index (int) or a "
        "callable that returns the tensor"
    )


def _by_key(key: str, out: Any) -> torch.Tensor:
    if isinstance(out, Mapping):
        if key not in out:
            raise ValueError(f"output={key!r}: the model returned {describe(out)}, without that key")
        return _tensor(out[key], f"output={key!r}")
    if not isinstance(out, torch.Tensor) and hasattr(out, key):  # a named tuple, a dataclass
        return _tensor(getattr(out, key), f"output={key!r}")
    raise TypeError(
        f"output={key!r} reads a key, but the model returned {describe(out)}"
        + ("; leave output=None for a model that returns a tensor" if isinstance(out, torch.Tensor) else "")
    )


def _by_index(index: int, out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        raise TypeError(
            f"output={index!r} reads an index, but the model returned {describe(out)}; "
            "leave output=None for a model that returns a tensor, or pass a callable"
        )
    if isinstance(out, Mapping) and not hasattr(type(out), "to_tuple"):
        raise TypeError(f"output={index!r} reads an index, but the model returned {describe(out)}; pass a key")
    try:
        value = out[index]
    except (IndexError, KeyError, TypeError):
        raise ValueError(f"output={index!r}: the model returned {describe(out)}, with no such index") from None
    return _tensor(value, f"output={index!r}")


def _by_callable(fn: Callable[[Any], Any], out: Any) -> torch.Tensor:
    return _tensor(fn(out), f"output={label(fn)}")


def reader(output: Output) -> Callable[[Any], torch.Tensor]:
    """The function that takes a model's output to the tensor the measures receive.

    Each raises one clear ``TypeError`` or ``ValueError`` naming what the model returned
    when the choice does not fit it.

    Examples
    --------
    >>> import torch
    >>> reader("logits")({"logits": torch.ones(2), "aux": None})
    tensor([1., 1.])
    >>> reader(None)((torch.ones(2), None))
    Traceback (most recent call last):
    ...
    TypeError: the model returned a tuple of 2: (Tensor (2,) float32, NoneType), not a tensor; say which tensor is its output, e.g. evaluate(..., output=0) to take entry 0; output= takes a key (str), an index (int) or a callable that returns the tensor
    """
    if output is None:
        return _as_is
    if isinstance(output, str):
        return lambda out: _by_key(output, out)
    if isinstance(output, int):
        return lambda out: _by_index(output, out)
    return lambda out: _by_callable(output, out)
