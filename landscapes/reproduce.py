"""``python -m landscapes.reproduce PAPER``: see :mod:`landscapes.app.reproduce`."""

from __future__ import annotations

import sys

from landscapes.app.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
