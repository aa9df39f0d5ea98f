"""ImageNet (ILSVRC 2012) from a folder per class, streamed from disk.

The data root's ``imagenet/train/`` and ``imagenet/val/`` folders each hold one
folder per class, named by its WordNet id (``n01440764/``…), with the JPEG images
inside; the validation images must be sorted into class folders the same way (as the
usual ``valprep.sh`` does). Classes are numbered in sorted folder order.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.nn import functional as F
from torch.utils.data import Dataset

from experiments.data.root import data_root, not_found

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGENET_SPLITS", "ImageFolder", "load_imagenet"]

#: Per-channel (R, G, B) mean and standard deviation of the training images in [0, 1]:
#: the standard constants.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Split names and whether each is augmented for training.
IMAGENET_SPLITS: dict[str, bool] = {"train": True, "val": False}

_EXTENSIONS = (".jpeg", ".jpg", ".png")
# Random-resized-crop ranges of Szegedy et al. (2015), as in torchvision.
_SCALE, _RATIO = (0.08, 1.0), (3 / 4, 4 / 3)


class ImageFolder(Dataset):
    """Images in a folder per class, decoded with Pillow on access.

    Evaluation: resize the shorter side to ``image_size * 256 / 224`` and crop the
    centre ``image_size`` square. Training: a random crop of 8 %–100 % of the area with
    aspect ratio in [3/4, 4/3], resized to ``image_size`` square, mirrored with
    probability 1/2. Both then standardise with :data:`IMAGENET_MEAN` and
    :data:`IMAGENET_STD`. All resizing is bilinear with antialiasing, on tensors.

    Parameters
    ----------
    folder : str or path-like
        Holds one folder per class.
    train : bool
        Random (training) or deterministic (evaluation) preprocessing.
    image_size : int
        Side of the square images returned.
    seed : int, optional
        With a seed, the crop and flip of item ``i`` depend only on ``(seed, epoch, i)``
        (see :meth:`set_epoch`), whatever the worker or order; without, they come from
        torch's global generator.

    Attributes
    ----------
    classes : list of str
        Class folder names; the label of a class is its index here.
    samples : list of (pathlib.Path, int)
        Every image and its label, in sorted order.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for wnid in ("n02", "n01"):
    ...     (root / wnid).mkdir()
    ...     Image.new("RGB", (40, 30), "red").save(root / wnid / "a.JPEG")
    >>> data = ImageFolder(root, image_size=16)
    >>> data.classes, len(data)
    (['n01', 'n02'], 2)
    >>> image, label = data[1]
    >>> image.shape, label
    (torch.Size([3, 16, 16]), 1)
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        train: bool = False,
        image_size: int = 224,
        seed: int | None = None,
    ) -> None:
        if not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a positive int, got {image_size!r}")
        self.folder = Path(folder)
        self.train = train
        self.image_size = image_size
        self.seed = seed
        self.epoch = 0
        self.classes = sorted(d.name for d in self.folder.iterdir() if d.is_dir())
        self.samples = [
            (f, label)
            for label, name in enumerate(self.classes)
            for f in sorted((self.folder / name).iterdir())
            if f.suffix.lower() in _EXTENSIONS
        ]

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Draw new crops and flips for a new epoch (only with a ``seed``)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        image = _decode(path)
        if self.train:
            generator = None
            if self.seed is not None:
                state = np.random.SeedSequence([self.seed, self.epoch, int(index)])
                generator = torch.Generator().manual_seed(int(state.generate_state(1)[0]))
            image = _random_resized_crop(image, self.image_size, generator)
        else:
            image = _center_crop(image, self.image_size)
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return (image - mean) / std, label


def _decode(path: Path) -> torch.Tensor:
    try:
        with Image.open(path) as im:
            pixels = np.array(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable image: {exc}") from exc
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    out = F.interpolate(image[None], size=(height, width), mode="bilinear",
                        align_corners=False, antialias=True)
    return out[0].clamp_(0.0, 1.0)


def _center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    h, w = image.shape[1:]
    short = round(size * 256 / 224)
    if h <= w:
        h, w = short, max(short, round(w * short / h))
    else:
        h, w = max(short, round(h * short / w)), short
    image = _resize(image, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size]


def _random_resized_crop(image: torch.Tensor, size: int,
                         generator: torch.Generator | None) -> torch.Tensor:
    h, w = image.shape[1:]
    for _ in range(10):  # torchvision's rejection sampling, then a central fallback
        u = torch.rand(4, generator=generator).tolist()
        area = h * w * (_SCALE[0] + (_SCALE[1] - _SCALE[0]) * u[0])
        log_lo, log_hi = math.log(_RATIO[0]), math.log(_RATIO[1])
        ratio = math.exp(log_lo + (log_hi - log_lo) * u[1])
        cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = int(u[2] * (h - ch + 1)), int(u[3] * (w - cw + 1))
            break
    else:
        ratio = min(max(w / h, _RATIO[0]), _RATIO[1])
        cw, ch = (w, round(w / ratio)) if w / h < ratio else (round(h * ratio), h)
        cw, ch = min(cw, w), min(ch, h)
        top, left = (h - ch) // 2, (w - cw) // 2
    crop = _resize(image[:, top : top + ch, left : left + cw], size, size)
    if float(torch.rand(1, generator=generator)) < 0.5:
        crop = crop.flip(2)
    return crop


def load_imagenet(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    image_size: int = 224,
    seed: int | None = None,
) -> ImageFolder:
    """ImageNet as a streaming dataset: it does not fit in memory.

    Parameters
    ----------
    split : {"train", "val"}
        ``train`` is augmented, ``val`` centre-cropped (see :class:`ImageFolder`).
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`); the images are in
        ``imagenet/<split>/<wnid>/*.JPEG`` under it.
    image_size : int
    seed : int, optional
        See :class:`ImageFolder`.

    Returns
    -------
    ImageFolder
        Use with a :class:`torch.utils.data.DataLoader`; move batches to the device.

    Raises
    ------
    DatasetNotFoundError
        When the split's folder is missing or has no images; ImageNet is never
        downloaded (licence).

    Examples
    --------
    >>> load_imagenet("test")
    Traceback (most recent call last):
    ...
    ValueError: unknown split 'test'; choose from ['train', 'val']
    """
    if split not in IMAGENET_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(IMAGENET_SPLITS)}")
    folder = data_root(data_dir) / "imagenet" / split
    dataset = ImageFolder(folder, train=IMAGENET_SPLITS[split], image_size=image_size,
                          seed=seed) if folder.is_dir() else None
    if dataset is None or len(dataset) == 0:
        raise not_found(
            f"ImageNet {split} split", folder.parent, ["train/<wnid>/*.JPEG", "val/<wnid>/*.JPEG"],
            missing=f"{split}/<wnid>/*.JPEG",
            download=("ImageNet is not downloaded (licence): get ILSVRC2012 from "
                      "https://image-net.org and put each split's images into a folder per class."),
        )
    return dataset
