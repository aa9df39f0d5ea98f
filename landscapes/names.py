"""The one error every registry raises for a name it does not know."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["unknown_name"]


def unknown_name(
    kind: str, name: object, choices: Iterable[str], listed: Iterable[str] | None = None
) -> ValueError:
    """``unknown <kind> <name!r> (did you mean ...?); choose from [...]``, to raise.

    Parameters
    ----------
    kind : str
        What is being named (``"model"``, ``"optimizer"``...).
    name : object
        The name given.
    choices : iterable of str
        Valid names, for the closest match.
    listed : iterable of str, optional
        What to list in the message (default: ``choices``), e.g. with patterns.

    Examples
    --------
    >>> unknown_name("model", "mnst_mlp", ["mnist_mlp", "cifar_vgg16"])
    ValueError("unknown model 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from ['cifar_vgg16', 'mnist_mlp']")
    """
    choices = list(choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = sorted(choices if listed is None else listed)
    return ValueError(f"unknown {kind} {name!r}{hint}; choose from {shown}")
