"""experiments: real data, the papers' networks, and training.

Imports the core (:mod:`landscapes`) and never :mod:`theory`.
"""

from __future__ import annotations
