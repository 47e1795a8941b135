"""The data every chapter trains on: scikit-learn's bundled 8x8 digits.

The digits set (1,797 images) ships inside scikit-learn, so nothing is
downloaded, and it is small enough that a tiny model trains in well under a
second on a CPU -- which is what lets a chapter compare a dozen schedules over
several seeds while the book builds.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = ["DigitsSplit", "load_digits_split"]

#: Number of images in scikit-learn's digits set.
N_DIGITS = 1797


@functools.lru_cache(maxsize=1)
def _load_raw() -> tuple[np.ndarray, np.ndarray]:
    """Images scaled to [0, 1] and labels, loaded once per process."""
    # Imported here: scikit-learn is slow to import and only this needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # pixels are 0..16
    labels = bunch.target.astype(np.int64)
    # The cache hands the same arrays to every caller: make accidental
    # in-place edits fail loudly instead of corrupting later splits.
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class DigitsSplit:
    """A fixed train/test split of the digits images.

    Attributes
    ----------
    x_train : torch.Tensor
        Training images, ``float32`` shaped ``(N, 1, 8, 8)``, pixels in ``[0, 1]``.
    y_train : torch.Tensor
        Training labels, ``int64`` shaped ``(N,)``: the digit values ``0``-``9``.
    x_test : torch.Tensor
        Test images, like ``x_train``.
    y_test : torch.Tensor
        Test labels, like ``y_train``.

    Examples
    --------
    >>> data = load_digits_split()
    >>> data.x_train.shape, data.x_test.shape
    (torch.Size([1347, 1, 8, 8]), torch.Size([450, 1, 8, 8]))
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def classes(self) -> tuple[int, ...]:
        """The digit values present in the split, sorted."""
        labels = torch.cat([self.y_train, self.y_test]).unique()
        return tuple(int(v) for v in labels)

    def features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The split as flat numpy arrays, for least-squares style chapters.

        Returns
        -------
        x_train : numpy.ndarray
            ``float64`` array shaped ``(n_train, 64)``.
        y_train : numpy.ndarray
            ``int64`` labels shaped ``(n_train,)``.
        x_test : numpy.ndarray
            ``float64`` array shaped ``(n_test, 64)``.
        y_test : numpy.ndarray
            ``int64`` labels shaped ``(n_test,)``.

        Examples
        --------
        >>> x_train, y_train, x_test, y_test = load_digits_split().features()
        >>> x_train.shape, x_train.dtype
        ((1347, 64), dtype('float64'))
        """
        # float64 so that normal equations / lstsq are not limited by float32.
        return (
            self.x_train.reshape(len(self.x_train), -1).numpy().astype(np.float64),
            self.y_train.numpy().copy(),
            self.x_test.reshape(len(self.x_test), -1).numpy().astype(np.float64),
            self.y_test.numpy().copy(),
        )

    def __repr__(self) -> str:
        # The default repr would print every pixel.
        return (
            f"DigitsSplit(n_train={len(self.y_train)}, n_test={len(self.y_test)}, "
            f"classes={self.classes})"
        )


def _check_digits(digits: Sequence[int]) -> list[int]:
    """Validate the ``digits`` argument and return it as a sorted list."""
    try:
        values = list(digits)
    except TypeError:
        raise ValueError(f"digits must be a sequence of ints in 0..9, got {digits!r}") from None
    if not values:
        raise ValueError(f"digits must name at least one class, got {digits!r}")
    for v in values:
        # bool is an Integral, but digits=(True,) is surely a mistake.
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v <= 9:
            raise ValueError(f"digits must contain ints in 0..9, got {v!r} in digits={digits!r}")
    return sorted({int(v) for v in values})


def load_digits_split(
    digits: Sequence[int] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> DigitsSplit:
    """Load scikit-learn's 8x8 digits as a fixed, stratified train/test split.

    Each class is split separately with the same fraction, so train and test
    have (up to rounding) the same class proportions. The split depends only
    on ``digits``, ``test_fraction`` and ``seed``, so every chapter and every
    run sees the same images. The scikit-learn load is cached; each call
    returns fresh tensors that may be modified freely.

    Parameters
    ----------
    digits : tuple of int, optional
        Keep only these classes (any sequence of values in ``0``-``9``).
        Labels keep their original digit values, so ``digits=(3, 8)`` gives
        labels ``3`` and ``8`` (not ``0`` and ``1``) and a model with 10
        outputs can be used unchanged. ``None`` (default) keeps all ten
        digits.
    test_fraction : float
        Fraction of each class held out for testing, strictly between 0 and 1.
    seed : int
        Seed of the split (not of training).

    Returns
    -------
    DigitsSplit
        Images ``(N, 1, 8, 8)`` as ``float32`` in ``[0, 1]`` and ``int64``
        labels. With the defaults: 1,347 training and 450 test images.

    Raises
    ------
    ValueError
        If ``test_fraction`` is not in ``(0, 1)`` or ``digits`` names anything
        but ints in ``0``-``9``.

    Examples
    --------
    >>> data = load_digits_split(digits=(3, 8))
    >>> data.classes
    (3, 8)
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    images, labels = _load_raw()
    classes = list(range(10)) if digits is None else _check_digits(digits)

    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in classes:  # sorted, so the rng draws happen in a fixed order
        idx = rng.permutation(np.flatnonzero(labels == c))
        # Keep at least one image on each side so no class vanishes from either.
        n_test = min(max(int(round(test_fraction * len(idx))), 1), len(idx) - 1)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    # Sorted so the tensors are in dataset order; training shuffles anyway.
    tr = np.sort(np.concatenate(train_idx))
    te = np.sort(np.concatenate(test_idx))

    def as_tensors(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        # Fancy indexing copies, so the cached arrays are never shared.
        x = torch.from_numpy(images[idx]).unsqueeze(1)  # (N, 1, 8, 8)
        y = torch.from_numpy(labels[idx])
        return x, y

    x_train, y_train = as_tensors(tr)
    x_test, y_test = as_tensors(te)
    return DigitsSplit(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
