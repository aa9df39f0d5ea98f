"""Penn Treebank, word level (Marcus et al. 1993), as prepared by Mikolov.

The files ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt`` (from Mikolov's
``simple-examples.tgz``) hold one sentence per line, words separated by spaces, rare
words already replaced by ``<unk>``. They are read from the data root's ``ptb/``
folder, or else from ``simple-examples/data/`` where the archive extracts them.
Following Zaremba et al. (2014), each line becomes its words followed by ``<eos>``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch

from experiments.data.root import data_root, not_found

__all__ = ["PTB_SPLITS", "load_ptb", "batchify", "bptt_batches"]

#: The file of each split.
PTB_SPLITS: dict[str, str] = {
    "train": "ptb.train.txt",
    "valid": "ptb.valid.txt",
    "test": "ptb.test.txt",
}

_FOLDERS = ("ptb", "simple-examples/data")
_EOS, _UNK = "<eos>", "<unk>"


def _words(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not a UTF-8 text file: {exc}") from exc
    return [word for line in text.splitlines() for word in (*line.split(), _EOS)]


def _locate(root: Path, split: str) -> Path:
    for folder in _FOLDERS:
        if (root / folder / PTB_SPLITS[split]).is_file():
            return root / folder / PTB_SPLITS[split]
    raise not_found(
        f"Penn Treebank {split} split", root / _FOLDERS[0], list(PTB_SPLITS.values()),
        missing=PTB_SPLITS[split],
        download=(f"PTB is not downloaded (licence). Copy the three files from the data/ "
                  f"folder of Mikolov's simple-examples.tgz; {str(root / _FOLDERS[1])!r} "
                  "is also searched."),
    )


def load_ptb(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, tuple[str, ...]]:
    """A split of word-level Penn Treebank as one long sequence of word ids.

    Parameters
    ----------
    split : {"train", "valid", "test"}
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`).
    device : str or torch.device, optional
        Where the ids go (once); default CPU.

    Returns
    -------
    ids : torch.Tensor
        int64, one per word, ``<eos>`` at the end of every line.
    vocab : tuple of str
        The word of each id, built from the *train* file whatever the split: by
        decreasing frequency, ties in alphabetical order, so the same files always
        give the same ids. It always has ``<eos>`` and ``<unk>``; words of another
        split that the train file lacks become ``<unk>``.

    Raises
    ------
    DatasetNotFoundError
        When a file is missing; says where to put it.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "ptb").mkdir()
    >>> for split in ("train", "valid", "test"):
    ...     _ = (root / "ptb" / f"ptb.{split}.txt").write_text(" the cat\\n the dog \\n")
    >>> ids, vocab = load_ptb("test", data_dir=root)
    >>> [vocab[i] for i in ids]
    ['the', 'cat', '<eos>', 'the', 'dog', '<eos>']
    >>> vocab
    ('<eos>', 'the', 'cat', 'dog', '<unk>')
    """
    if split not in PTB_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(PTB_SPLITS)}")
    root = data_root(data_dir)
    counts = Counter(_words(_locate(root, "train")))
    counts.update({_EOS: 0, _UNK: 0})
    vocab = tuple(sorted(counts, key=lambda word: (-counts[word], word)))
    index = {word: i for i, word in enumerate(vocab)}
    words = _words(_locate(root, split))
    unk = index[_UNK]
    ids = torch.tensor([index.get(word, unk) for word in words], dtype=torch.int64)
    return ids.to(device), vocab


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a sequence into ``batch_size`` equal contiguous rows, dropping the remainder.

    Row ``b`` continues where row ``b - 1`` ends in the original sequence, so that each
    row is read left to right across consecutive BPTT windows (Zaremba et al. 2014).

    Parameters
    ----------
    ids : torch.Tensor
        1-D sequence of word ids.
    batch_size : int

    Returns
    -------
    torch.Tensor
        Shape (batch_size, len(ids) // batch_size), a view of ``ids``.

    Examples
    --------
    >>> batchify(torch.arange(7), 2)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    if ids.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of ids, got shape {tuple(ids.shape)!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(ids):
        raise ValueError(f"batch_size must be an int in [1, {len(ids)}], got {batch_size!r}")
    n = len(ids) // batch_size
    return ids[: batch_size * n].view(batch_size, n)


def bptt_batches(data: torch.Tensor, steps: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive windows of ``steps`` words and the words that follow each.

    As in Zaremba et al. (2014): window ``k`` covers columns ``k*steps`` to
    ``(k+1)*steps - 1`` of ``data`` and the targets are the same window shifted one to
    the right; only whole windows are produced.

    Parameters
    ----------
    data : torch.Tensor
        Shape (batch, n), from :func:`batchify`.
    steps : int
        Unrolled length, ``1 <= steps < n``.

    Yields
    ------
    inputs, targets : torch.Tensor
        Each of shape (batch, steps).

    Examples
    --------
    >>> [(x.tolist(), y.tolist()) for x, y in bptt_batches(torch.arange(6).view(1, 6), 2)]
    [([[0, 1]], [[1, 2]]), ([[2, 3]], [[3, 4]])]
    """
    if data.ndim != 2:
        raise ValueError(f"expected data of shape (batch, n), got shape {tuple(data.shape)!r}")
    n = data.shape[1]
    if not isinstance(steps, int) or not 1 <= steps < n:
        raise ValueError(f"steps must be an int in [1, {n - 1}], got {steps!r}")
    for start in range(0, (n - 1) // steps * steps, steps):
        yield data[:, start : start + steps], data[:, start + 1 : start + steps + 1]
