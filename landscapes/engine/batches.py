"""Turn the data forms :func:`landscapes.evaluate` accepts into re-iterable batches.

Accepted forms: an ``(inputs, targets)`` pair of tensors or arrays (sliced, no
DataLoader), a map-style ``torch.utils.data.Dataset`` (read through a DataLoader), or
any re-iterable of ``(inputs, targets, ...)`` batches such as a DataLoader or a list.
Arrays are anything torch converts without guessing: NumPy arrays (shared, not
copied) and objects with ``__array__``, ``__dlpack__`` or ``__cuda_array_interface__``
(pandas, JAX, CuPy). Nested Python lists are not arrays here: a list of two
batches would read as a pair.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["Batches", "as_batches"]

_FORMS = (
    "an (inputs, targets) pair of tensors or arrays, a torch Dataset, or a re-iterable "
    "of (inputs, targets) batches such as a DataLoader"
)


class Batches:
    """A re-iterable source of ``(inputs, targets)`` batches with a known length when possible."""

    def __init__(self, source: Any, batch_size: int, name: str) -> None:
        self.name = name
        self.batch_size = batch_size
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None
        self._iterable: Iterable[Any] | None = None
        if _is_pair(source):
            x = _as_tensor(source[0], f"data {name!r}: the inputs")
            y = _as_tensor(source[1], f"data {name!r}: the targets")
            if x.dim() == 0 or y.dim() == 0:
                raise ValueError(
                    f"data {name!r}: inputs of shape {tuple(x.shape)!r} and targets of shape "
                    f"{tuple(y.shape)!r}; both need a leading dimension of examples"
                )
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"data {name!r}: inputs have {x.shape[0]} examples but targets "
                    f"{y.shape[0]}; they must match along the first dimension"
                )
            if x.shape[0] == 0:
                raise ValueError(f"data {name!r} has no examples")
            self._pair = (x, y)
        elif _is_half_pair(source):
            raise TypeError(
                f"data {name!r} is a {type(source).__name__} of "
                f"({', '.join(type(t).__name__ for t in source)}); an (inputs, targets) "
                "pair needs two tensors or arrays"
            )
        elif isinstance(source, Dataset):
            try:
                n = len(source)  # type: ignore[arg-type]
            except TypeError:
                n = None
            if n == 0:
                raise ValueError(f"data {name!r} has no examples")
            self._iterable = DataLoader(source, batch_size=batch_size, shuffle=False)
        elif isinstance(source, collections.abc.Iterable) and not isinstance(
            source, (str, bytes, torch.Tensor, collections.abc.Mapping)
        ):
            if iter(source) is source:
                raise ValueError(
                    f"data {name!r} is an iterator, which can be read only once; the engine "
                    "reads the data once per chunk of points, so pass a list or a DataLoader"
                )
            self._iterable = source
        else:
            raise TypeError(f"data {name!r} must be {_FORMS}; got {_given(source)}")

    def __len__(self) -> int:
        if self._pair is not None:
            return -(-self._pair[0].shape[0] // self.batch_size)
        try:
            return len(self._iterable)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"data {self.name!r} has no known number of batches") from None

    @property
    def key(self) -> tuple | None:
        """What identifies these batches across calls, for an ``(inputs, targets)``
        pair (ids and in-place versions of both tensors, and the batch size); ``None``
        for other sources, whose batches need not repeat."""
        if self._pair is None:
            return None
        x, y = self._pair
        return (id(x), x._version, id(y), y._version, self.batch_size)

    @property
    def sources(self) -> tuple:
        """The objects :attr:`key` names by identity."""
        return self._pair or ()

    def has_len(self) -> bool:
        """Whether the number of batches is known without reading the data."""
        try:
            len(self)
        except TypeError:
            return False
        return True

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._pair is not None:
            x, y = self._pair
            for start in range(0, x.shape[0], self.batch_size):
                yield x[start : start + self.batch_size], y[start : start + self.batch_size]
            return
        count = 0
        for i, batch in enumerate(self._iterable):  # type: ignore[union-attr]
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise TypeError(
                    f"data {self.name!r}: batch {i} is a {type(batch).__name__}; each batch "
                    "must be an (inputs, targets) pair"
                )
            x, y = batch[0], batch[1]
            if not _is_array(x) or not _is_array(y):
                raise TypeError(
                    f"data {self.name!r}: batch {i} holds {type(x).__name__} and "
                    f"{type(y).__name__}; inputs and targets must be tensors or arrays"
                )
            x = _as_tensor(x, f"data {self.name!r}: batch {i}'s inputs")
            y = _as_tensor(y, f"data {self.name!r}: batch {i}'s targets")
            count += 1
            yield x, y
        if count == 0:
            raise ValueError(f"data {self.name!r} has no batches")


def _is_array(obj: Any) -> bool:
    """Whether torch can take ``obj`` as one tensor without guessing at its structure."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return True
    if isinstance(obj, (str, bytes, tuple, list, collections.abc.Mapping)):
        return False
    return any(hasattr(obj, a) for a in ("__array__", "__dlpack__", "__cuda_array_interface__"))


def _as_tensor(obj: Any, what: str) -> torch.Tensor:
    """``obj`` as a tensor, sharing memory where torch can."""
    if isinstance(obj, torch.Tensor):
        return obj
    try:
        if isinstance(obj, np.ndarray) or not hasattr(obj, "__dlpack__"):
            arr = np.asarray(obj)
            # torch warns on read-only arrays, since it cannot promise not to write
            return torch.from_numpy(arr if arr.flags.writeable else arr.copy())
        return torch.from_dlpack(obj)
    except (TypeError, ValueError, RuntimeError, BufferError) as exc:
        raise TypeError(f"{what} are a {type(obj).__name__} that torch cannot convert: {exc}") from None


def _is_pair(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and all(_is_array(t) for t in obj)


def _is_half_pair(obj: Any) -> bool:
    """Two items, one of them a tensor or array: a pair with a wrong member."""
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and any(_is_array(t) for t in obj)


def _given(obj: Any) -> str:
    """What was given, in a few words, for an error message."""
    text = repr(obj)
    return type(obj).__name__ + (f" {text}" if len(text) <= 60 else "")


def as_batches(data: Any, batch_size: int, name: str = "data") -> Batches:
    """Wrap one split of data as :class:`Batches`, raising a clear error for other forms.

    Parameters
    ----------
    data : tuple of tensors, Dataset or iterable of batches
    batch_size : int
        Batch size for pairs and Datasets; iterables keep their own batching.
    name : str
        Split name for error messages.

    Returns
    -------
    Batches

    Examples
    --------
    >>> import torch
    >>> b = as_batches((torch.zeros(5, 2), torch.zeros(5)), batch_size=2)
    >>> [x.shape[0] for x, _ in b]
    [2, 2, 1]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return Batches(data, batch_size, name)
