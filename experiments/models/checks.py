"""Argument checks shared by the model builders, with errors that name the bad value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["positive_int", "choice"]

T = TypeVar("T")


def positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a ``ValueError`` naming it.

    Examples
    --------
    >>> positive_int(10, "num_classes")
    10
    >>> positive_int(0, "num_classes")
    Traceback (most recent call last):
    ...
    ValueError: num_classes must be a positive int, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def choice(value: T, name: str, options: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``options``, else raise a ``ValueError`` listing them.

    Examples
    --------
    >>> choice("tanh", "activation", ["relu", "sigmoid"])
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'tanh'; choose from ['relu', 'sigmoid']
    """
    options = list(options)
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose from {options}")
    return value
