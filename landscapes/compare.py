"""``python -m landscapes.compare A B``: see :mod:`landscapes.app.compare`."""

from __future__ import annotations

import sys

from landscapes.app.compare import main

if __name__ == "__main__":
    sys.exit(main())
