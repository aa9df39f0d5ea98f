"""``python -m landscapes.widths``: see :mod:`landscapes.app.widths`."""

from __future__ import annotations

import sys

from landscapes.app.widths import main

if __name__ == "__main__":
    sys.exit(main())
