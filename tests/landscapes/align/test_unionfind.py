from __future__ import annotations

import pytest

from landscapes.align.unionfind import FIXED, AxisSets, Inconsistent


def test_blocks_compose_along_a_chain():
    sets = AxisSets()
    a, b, c = sets.new(2), sets.new(6), sets.new(24)
    sets.join(a, b, 3)
    sets.join(b, c, 4)
    assert sets.find(c) == (a, 12)


def test_joining_a_finer_root_under_a_coarser_one():
    sets = AxisSets()
    fine, coarse = sets.new(12), sets.new(4)
    sets.join(coarse, fine, 3)  # fine = coarse ⊗ I_3: the root becomes the coarse one
    assert sets.find(fine) == (coarse, 3)


def test_fixed_absorbs_a_whole_class():
    sets = AxisSets()
    a, b = sets.new(4), sets.new(4)
    sets.join(a, b)
    sets.join(FIXED, b)
    assert sets.fixed(a) and sets.fixed(b)


def test_sizes_must_agree():
    sets = AxisSets()
    with pytest.raises(Inconsistent, match="entries"):
        sets.join(sets.new(4), sets.new(5))


def test_blocks_that_do_not_nest_are_refused():
    sets = AxisSets()
    three, two, six = sets.new(3), sets.new(2), sets.new(6)
    sets.join(two, six, 3)  # six = P_two ⊗ I_3
    with pytest.raises(Inconsistent, match="do not nest"):
        sets.join(three, six, 2)  # and P_three ⊗ I_2: no permutation is both
