"""Shared fixtures: real MNIST from $LANDSCAPES_DATA, small networks, seeded anchors."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# Shared machines are noisy: no per-example deadline. CI runs a fixed example set so a
# red run can be reproduced exactly; locally examples vary from run to run.
settings.register_profile(
    "dev", deadline=None, max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", 50)), suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", parent=settings.get_profile("dev"), derandomize=True, database=None
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root CI sets; tests that need real data skip without it."""
    root = os.environ.get("LANDSCAPES_DATA")
    if not root or not (Path(root) / "mnist").is_dir():
        pytest.skip("real MNIST not found: set LANDSCAPES_DATA to a folder with mnist/")
    return Path(root)


@pytest.fixture(scope="session")
def mnist_test(data_root: Path):
    from experiments.data import load_mnist

    return load_mnist("test", data_dir=data_root, flatten=True)


@pytest.fixture(scope="session")
def mnist_train(data_root: Path):
    from experiments.data import load_mnist

    return load_mnist("train", data_dir=data_root, flatten=True)


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist every worker would start one torch thread per core: on the
    # 2-core CI machine, 2 workers × 2 threads oversubscribe it and run slower.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
