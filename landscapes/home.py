"""Where landscapes keeps what it makes: ``$LANDSCAPES_HOME``, else a per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home"]


def home(*parts: str) -> Path:
    """``$LANDSCAPES_HOME/<parts>``, or ``$XDG_CACHE_HOME/landscapes/<parts>`` (default
    ``~/.cache/landscapes/<parts>``).

    Run stores, downloaded data and cached analyses live in subfolders of it, never
    inside the package.

    Examples
    --------
    >>> import os
    >>> os.environ["LANDSCAPES_HOME"] = "/tmp/lh"
    >>> str(home("runs"))
    '/tmp/lh/runs'
    >>> del os.environ["LANDSCAPES_HOME"]
    """
    root = os.environ.get("LANDSCAPES_HOME")
    if root:
        return Path(root).expanduser().joinpath(*parts)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser().joinpath("landscapes", *parts)
