"""Word-level Penn Treebank from files in Mikolov's format, and BPTT batching."""

from __future__ import annotations

import pytest
import torch

from experiments.data import DatasetNotFoundError, batchify, bptt_batches, load, load_ptb

# Lines as in ptb.*.txt: a leading space, words separated by single spaces, <unk>
# already in place, a trailing space before the newline.
TRAIN = [" the cat sat on the mat ", " the dog sat ", " a <unk> cat "]
VALID = [" the zebra sat "]
TEST = [" a cat ", " on the mat "]


def write_ptb(folder) -> None:
    folder.mkdir(parents=True)
    for split, lines in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        (folder / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")


def words(lines: list[str]) -> list[str]:
    return [w for line in lines for w in (*line.split(), "<eos>")]


@pytest.mark.parametrize("location", ["ptb", "simple-examples/data"])
def test_ids_spell_the_text_with_eos_and_a_frequency_sorted_vocab(tmp_path, location):
    write_ptb(tmp_path / location)
    ids, vocab = load_ptb("train", data_dir=tmp_path)
    assert ids.dtype == torch.int64 and [vocab[i] for i in ids] == words(TRAIN)
    keys = [(-words(TRAIN).count(w), w) for w in vocab]
    assert keys == sorted(keys)  # by decreasing frequency, ties alphabetical
    assert set(vocab) == set(words(TRAIN))
    test_ids, test_vocab = load_ptb("test", data_dir=tmp_path)
    assert test_vocab == vocab and [vocab[i] for i in test_ids] == words(TEST)


def test_words_unseen_in_train_become_unk(tmp_path):
    write_ptb(tmp_path / "ptb")
    ids, vocab = load("ptb", "valid", data_dir=tmp_path, device="meta")
    assert ids.device.type == "meta"
    ids, vocab = load_ptb("valid", data_dir=tmp_path)
    assert [vocab[i] for i in ids] == ["the", "<unk>", "sat", "<eos>"]


def test_missing_files_say_where_and_that_there_is_no_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_ptb("valid", data_dir=tmp_path)
    message = str(info.value)
    for needle in (str(tmp_path / "ptb"), str(tmp_path / "simple-examples" / "data"),
                   "ptb.train.txt", "ptb.valid.txt", "not downloaded", "--data-dir"):
        assert needle in message
    with pytest.raises(ValueError, match=r"split 'val'; choose from \['test', 'train', 'valid'\]"):
        load_ptb("val", data_dir=tmp_path)


def test_batchify_rows_are_consecutive_stretches():
    ids = torch.arange(23)
    data = batchify(ids, 4)
    assert data.shape == (4, 5)
    assert torch.equal(data.flatten(), ids[:20])  # row b continues where row b-1 ends
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 23\], got 0"):
        batchify(ids, 0)


@pytest.mark.parametrize("n, steps", [(11, 3), (10, 3), (7, 6), (5, 1)])
def test_bptt_targets_are_the_next_words_and_windows_tile_the_rows(n, steps):
    data = batchify(torch.arange(3 * n), 3)
    pairs = list(bptt_batches(data, steps))
    assert len(pairs) == (n - 1) // steps
    assert all(x.shape == y.shape == (3, steps) for x, y in pairs)
    assert all(torch.equal(y, x + 1) for x, y in pairs)  # ids count up along each row
    inputs = torch.cat([x for x, _ in pairs], dim=1)
    assert torch.equal(inputs, data[:, : inputs.shape[1]])
    with pytest.raises(ValueError, match=rf"steps must be an int in \[1, {n - 1}\], got {n}"):
        next(bptt_batches(data, n))
