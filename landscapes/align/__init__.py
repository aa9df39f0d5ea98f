"""Permutation alignment of two networks of one architecture.

Hidden units can be renamed without changing a network's function, so two trained
networks may be far apart in weight space only because their units are listed in
different orders. This package derives the permutations an architecture allows
(:func:`permutation_spec`), finds the one that brings a second network closest to a
first (:func:`weight_matching`, :func:`activation_matching`; Ainsworth, Hayase &
Srinivasa 2023), checks that every aligned network computes exactly the function it
came from, and corrects the variance collapse of interpolated networks
(:func:`repair`, :func:`reset_batchnorm`; Jordan et al. 2023).
"""

from __future__ import annotations

from landscapes.align.check import FunctionCheck, NotFunctionPreserving, check_function
from landscapes.align.derive import UnsupportedModel, permutation_spec
from landscapes.align.matching import Alignment, activation_matching, weight_matching
from landscapes.align.repair import CORRECTIONS, correct, interpolate, repair, reset_batchnorm
from landscapes.align.spec import (
    Axis,
    PermutationGroup,
    PermutationSpec,
    apply_permutation,
    identity_permutation,
    random_permutation,
)

__all__ = [
    "CORRECTIONS",
    "correct",
    "interpolate",
    "repair",
    "reset_batchnorm",
    "Alignment",
    "FunctionCheck",
    "NotFunctionPreserving",
    "activation_matching",
    "check_function",
    "weight_matching",
    "Axis",
    "PermutationGroup",
    "PermutationSpec",
    "UnsupportedModel",
    "apply_permutation",
    "identity_permutation",
    "permutation_spec",
    "random_permutation",
]
