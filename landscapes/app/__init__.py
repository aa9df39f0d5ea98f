"""The application layer: named systems, analyses, paper studies and the command-line tools.

The only part of ``landscapes`` that imports all of :mod:`theory`, :mod:`experiments`
and the core. The ``python -m landscapes.compare`` and ``python -m landscapes.reproduce``
entry points are one-line shims that call into here.
"""
