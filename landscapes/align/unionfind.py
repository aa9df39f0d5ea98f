"""Weighted union-find over the axes a permutation may act on.

Every element is one axis (of a parameter, a buffer or an intermediate tensor) of a
known size. Element ``y`` joined to ``x`` with factor ``k`` means that ``y`` is permuted
by ``P_x ⊗ I_k``: unit ``i`` of ``x`` carries the ``k`` consecutive entries
``i·k, …, i·k + k - 1`` of ``y`` with it (a channel and its flattened map). The special
element :data:`FIXED` stands for "not permuted"; joining anything to it fixes it.
"""

from __future__ import annotations

__all__ = ["FIXED", "Inconsistent", "AxisSets"]

#: The element of every axis that no permutation may touch (inputs, outputs, kernels).
FIXED = 0


class Inconsistent(ValueError):
    """Two constraints on one axis that no single permutation satisfies."""


class AxisSets:
    """Weighted union-find: which axes share one permutation, and in which blocks.

    Examples
    --------
    >>> sets = AxisSets()
    >>> a, b = sets.new(4), sets.new(8)
    >>> sets.join(a, b, 2)  # b is permuted by P_a ⊗ I_2
    >>> sets.find(b) == (a, 2)
    True
    >>> sets.join(b, FIXED)
    >>> sets.fixed(a)
    True
    """

    def __init__(self) -> None:
        self._parent: list[int] = [FIXED]
        self._factor: list[int] = [1]
        self.size: list[int] = [0]

    def new(self, size: int) -> int:
        """A fresh element for an axis of ``size`` entries."""
        self._parent.append(len(self._parent))
        self._factor.append(1)
        self.size.append(int(size))
        return len(self._parent) - 1

    def find(self, x: int) -> tuple[int, int]:
        """``(root, k)``: ``x`` is permuted by ``P_root ⊗ I_k``."""
        path = []
        while self._parent[x] != x:
            path.append(x)
            x = self._parent[x]
        root, k = x, 1
        for node in reversed(path):  # path compression, products of factors
            k *= self._factor[node]
            self._parent[node], self._factor[node] = root, k
        return (root, self._factor[path[0]]) if path else (root, 1)

    def fixed(self, x: int) -> bool:
        """Whether ``x`` is joined to :data:`FIXED`."""
        return self.find(x)[0] == FIXED

    def join(self, x: int, y: int, k: int = 1) -> None:
        """Constrain ``y`` to be permuted by ``P_x ⊗ I_k``.

        Raises :class:`Inconsistent` when the sizes or block structures cannot agree.
        """
        (rx, kx), (ry, ky) = self.find(x), self.find(y)
        if FIXED in (rx, ry):
            self._attach(ry if rx == FIXED else rx, FIXED, 1)
            return
        if self.size[x] * k != self.size[y]:
            raise Inconsistent(
                f"an axis of {self.size[y]} entries meets one of {self.size[x]} in blocks of {k}")
        m = kx * k  # y = P_rx ⊗ I_m and y = P_ry ⊗ I_ky
        if rx == ry:
            if m != ky:
                raise Inconsistent(f"one axis is asked to move in blocks of both {m} and {ky}")
            return
        if m % ky == 0:
            self._attach(ry, rx, m // ky)
        elif ky % m == 0:
            self._attach(rx, ry, ky // m)
        else:
            raise Inconsistent(f"blocks of {m} and of {ky} do not nest")

    def _attach(self, child: int, parent: int, k: int) -> None:
        if child != parent:
            self._parent[child], self._factor[child] = parent, k
