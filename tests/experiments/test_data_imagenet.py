"""ImageNet's folder-per-class layout, on a few tiny images the tests write."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from experiments.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetNotFoundError,
    ImageFolder,
    load,
    load_imagenet,
)

COLOURS = {"n01440764": (255, 0, 0), "n01443537": (0, 128, 255), "n01484850": (40, 200, 90)}


def write_imagenet(root) -> None:
    """Uniform images of each class's colour in train/ and val/; sizes and formats vary."""
    for split in ("train", "val"):
        for k, (wnid, colour) in enumerate(sorted(COLOURS.items(), reverse=True)):
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            Image.new("RGB", (40 + 7 * k, 30), colour).save(folder / f"{wnid}_1.png")
            Image.new("RGB", (24, 36), colour).save(folder / f"{wnid}_2.JPEG", quality=95)
        (root / "imagenet" / split / "n01440764" / "notes.txt").write_text("not an image")


def expected(colour) -> torch.Tensor:
    pixel = torch.tensor(colour) / 255.0
    return (pixel - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)


def test_val_images_are_labelled_by_sorted_class_and_centre_cropped(tmp_path):
    write_imagenet(tmp_path)
    data = load_imagenet("val", data_dir=tmp_path, image_size=16)
    assert data.classes == sorted(COLOURS) and len(data) == 6
    for i in range(len(data)):
        image, label = data[i]
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        path, _ = data.samples[i]
        assert path.parent.name == data.classes[label]
        # uniform images stay uniform: standardised with the ImageNet constants (JPEG
        # is lossy, hence the tolerance)
        target = expected(COLOURS[data.classes[label]]).view(3, 1, 1).expand_as(image)
        torch.testing.assert_close(image, target, atol=0.05, rtol=0)


def test_eval_keeps_the_centre_of_a_wide_image(tmp_path):
    folder = tmp_path / "imagenet" / "val" / "n0"
    folder.mkdir(parents=True)
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :12, 0] = pixels[:, 12:52, 1] = pixels[:, 52:, 2] = 255  # red | green | blue
    Image.fromarray(pixels).save(folder / "bands.png")
    image, _ = load_imagenet("val", data_dir=tmp_path, image_size=16)[0]
    # shorter side to 16 * 256 / 224 = 18 (so 36 wide), then the central 16 columns
    target = expected((0, 255, 0)).view(3, 1, 1).expand_as(image)
    torch.testing.assert_close(image, target, atol=1e-3, rtol=0)


def test_train_crops_are_seeded_and_mirror_about_half(tmp_path):
    folder = tmp_path / "imagenet" / "train" / "n0"
    folder.mkdir(parents=True)
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))  # brighter to the right
    Image.fromarray(np.stack([ramp] * 3, axis=2)).save(folder / "ramp.png")
    data = load_imagenet("train", data_dir=tmp_path, image_size=12, seed=5)
    first = data[0][0]
    assert first.shape == (3, 12, 12) and torch.equal(first, data[0][0])
    directions = []
    for epoch in range(40):
        data.set_epoch(epoch)
        image = data[0][0]
        directions.append(bool(image[0, :, -1].mean() > image[0, :, 0].mean()))
    assert 5 < sum(directions) < 35  # left-right mirror in some epochs, not all


def test_batches_through_a_data_loader(tmp_path):
    write_imagenet(tmp_path)
    data = load("imagenet", "train", data_dir=tmp_path, image_size=8, device="meta")
    assert isinstance(data, ImageFolder)
    images, labels = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
    assert images.shape == (4, 3, 8, 8) and labels.dtype == torch.int64


def test_missing_or_broken_data_is_explained(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_imagenet("val", data_dir=tmp_path)
    for needle in (str(tmp_path / "imagenet"), "val/<wnid>/*.JPEG", "not downloaded", "--data-dir"):
        assert needle in str(info.value)
    write_imagenet(tmp_path)
    broken = tmp_path / "imagenet" / "val" / "n01440764" / "n01440764_2.JPEG"
    broken.write_bytes(b"\xff\xd8 truncated")
    data = load_imagenet("val", data_dir=tmp_path, image_size=8)
    with pytest.raises(ValueError, match="n01440764_2.JPEG.*not a readable image"):
        data[1]
    with pytest.raises(ValueError, match="image_size must be a positive int, got 0"):
        load_imagenet("val", data_dir=tmp_path, image_size=0)
