"""The torch-free core: theory/ builds on it, so it must import without PyTorch."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_without_torch(code: str) -> subprocess.CompletedProcess:
    # A None entry in sys.modules makes every `import torch` fail, as if not installed.
    prelude = "import sys; sys.modules['torch'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True
    )


def test_core_imports_without_torch():
    proc = run_without_torch(
        """
        import numpy as np
        import landscapes
        from landscapes import results, grids
        ds = results.slice_dataset(np.ones(3), alpha=grids.uniform(3), analysis="a", system="s")
        print(ds.loss.size)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


def test_torch_parts_fail_loudly_without_torch():
    proc = run_without_torch("import landscapes; landscapes.evaluate")
    assert proc.returncode != 0
    assert "torch" in proc.stderr
