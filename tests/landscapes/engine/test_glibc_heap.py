"""Freed memory kept mapped while the engine runs."""

from __future__ import annotations

import resource

import pytest
import torch

from landscapes.engine import glibc_heap


def _faults_allocating(times: int, numel: int) -> int:
    """Minor page faults while allocating three tensors at once, ``times`` over: the
    pattern of a forward pass, whose freed layers leave more at the heap's top than
    glibc's dynamic trim threshold (twice the largest freed block) lets it keep."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        # ones() writes every page, so each fresh mapping faults all of them
        a, b, c = torch.ones(numel), torch.ones(numel), torch.ones(numel)
        del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(glibc_heap._LIBC is None, reason="needs glibc")
def test_reallocating_inside_kept_does_not_fault_each_page_again():
    numel = 6 * 2**20  # 24 MiB: below the mmap threshold; three exceed any trim one glibc picks
    pages = numel * 4 // resource.getpagesize()
    # glibc's start-up defaults, whatever ran before in this process: every such
    # tensor is then mapped afresh
    glibc_heap._LIBC.mallopt(glibc_heap._M_MMAP_THRESHOLD, 128 * 2**10)
    glibc_heap._LIBC.mallopt(glibc_heap._M_TRIM_THRESHOLD, 128 * 2**10)
    outside = _faults_allocating(20, numel)
    with glibc_heap.kept():
        _faults_allocating(1, numel)  # the heap grows once
        inside = _faults_allocating(20, numel)
    # inside: at most one round's worth (3 tensors × pages). Outside, how many rounds
    # fault depends on the kernel (transparent huge pages fault 2 MiB at a time), so
    # only that it faults more than inside.
    assert inside <= 3 * pages, (inside, outside, pages)
    assert outside > inside, (inside, outside, pages)


def test_kept_is_a_no_op_without_glibc_and_lets_errors_through(monkeypatch):
    monkeypatch.setattr(glibc_heap, "_LIBC", None)
    with pytest.raises(KeyError), glibc_heap.kept():
        raise KeyError("x")
