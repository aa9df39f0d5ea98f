"""Shared fixtures: real MNIST from $LANDSCAPES_DATA, small networks, seeded anchors."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import matplotlib
import pytest
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# A shell starts background jobs with SIGINT ignored, and Python then never turns Ctrl-C
# into KeyboardInterrupt, in this process or in the children it starts. The Ctrl-C tests
# would fail for the way they were launched, not for the code: give SIGINT its default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Float32 results depend on torch's thread count, and the default follows the machine's
# load when a process starts (landscapes.devices.thread_choice). Tests compare runs made
# in this process with runs made in children started with OMP_NUM_THREADS=1, and two
# xdist workers share the CI's two cores: one thread everywhere, as the children have.
torch.set_num_threads(1)

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


#: Columns of the fault suite's tables (docs: the reliability page).
FAULT_COLUMNS = ("fault", "where injected", "outcome", "what was kept", "check")


@pytest.fixture
def record_fault():
    """``record(table, fault, where, outcome, kept, check)``: one row of a fault table.

    When ``$LANDSCAPES_RELIABILITY_OUT`` names a folder, the row goes into
    ``faults_<table>.csv`` there (replacing an earlier row for the same fault and place),
    so the docs render the suite's own outcomes. pytest-xdist workers share the file
    under a lock (kept in the temp folder, not beside the table), each write atomic.
    """
    import csv
    import hashlib
    import io
    import tempfile

    # Bound now: a case may patch the run store's writes before it records its row.
    from experiments.lock import hold
    from landscapes.results import atomic_write

    def record(table: str, fault: str, where: str, outcome: str, kept: str, check: str) -> None:
        folder = os.environ.get("LANDSCAPES_RELIABILITY_OUT")
        if not folder:
            return
        path = Path(folder).resolve() / f"faults_{table}.csv"
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        with hold(Path(tempfile.gettempdir()) / f"landscapes-faults-{digest}.lock"):
            rows = {}
            if path.exists():
                with open(path, newline="") as fh:
                    rows = {(r["fault"], r["where injected"]): r for r in csv.DictReader(fh)}
            row = dict(zip(FAULT_COLUMNS, (fault, where, outcome, kept, check)))
            rows[(fault, where)] = row
            text = io.StringIO()
            writer = csv.DictWriter(text, FAULT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows[key] for key in sorted(rows))
            atomic_write(path, lambda tmp: Path(tmp).write_text(text.getvalue()))

    return record
