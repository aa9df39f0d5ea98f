"""Output folders: checked before any work, never silently given to another request."""

from __future__ import annotations

import json
import os

import pytest

from landscapes.app.outputs import MANIFEST, check_writable, claim, tag


def test_a_file_where_a_folder_should_be_is_one_clear_line(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"--out .*taken.* is not a writable folder"):
        check_writable(blocker, "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not a writable folder"):
            check_writable(folder, "--out")
    finally:
        folder.chmod(0o700)


def test_a_full_disk_is_refused(tmp_path, monkeypatch):
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    with pytest.raises(ValueError, match="No space left on device"):
        check_writable(tmp_path, "--out")


def test_the_same_request_may_rewrite_a_folder_another_may_not(tmp_path):
    claim(tmp_path, {"budget": {"points": 11}, "analyses": ["a"]})
    claim(tmp_path, {"budget": {"points": 11}, "analyses": ["a"]})
    with pytest.raises(ValueError, match=r"differs in \['analyses'\]"):
        claim(tmp_path, {"budget": {"points": 11}, "analyses": ["a", "b"]})
    assert json.loads((tmp_path / MANIFEST).read_text())["analyses"] == ["a"]


def test_tags_name_the_budget_and_hash_what_changed():
    assert tag("paper", {}) == "paper"
    assert tag("quick", {"a": 1}) != tag("quick", {"a": 2})
    assert tag("quick", {"a": 1}).startswith("quick-")
