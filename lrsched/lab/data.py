"""The data every chapter trains on: scikit-learn's bundled 8x8 digits.

The digits set (1,797 images) ships inside scikit-learn, so nothing is
downloaded, and it is small enough that a tiny model trains in well under a
second on a CPU -- which is what lets a chapter compare a dozen schedules over
several seeds while the book builds.

The protocol: :func:`load_digits_split` gives three disjoint parts. Anything
tuned (a peak learning rate, a warmup length, a grid) is chosen on the
validation part; the test part is used only for the number reported. Every
seed the lab uses is shifted by :func:`~lrsched.lab.stats.seed_offset`, so the
whole book can be re-run on fresh splits, initialisations and batch orders.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .stats import SEED_OFFSET_VARIABLE, seed_offset

__all__ = ["DigitsSplit", "check_seed", "load_digits_split", "manual_seed"]

#: Largest seed numpy's and torch's generators accept.
_MAX_SEED = 2**63 - 1


def check_seed(seed: object, name: str = "seed") -> int:
    """Validate ``seed`` and return ``seed + seed_offset()``, the seed to use.

    Parameters
    ----------
    seed : int
        A non-negative integer (numpy integers too). ``None`` is refused: a
        random seed would make a chapter's numbers unrepeatable.
    name : str
        Argument name used in error messages.

    Returns
    -------
    int
        ``seed`` plus the offset from ``LRSCHED_SEED_OFFSET``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (``None``, a float, a bool).
    ValueError
        If ``seed`` or the shifted seed is negative or above ``2**63 - 1``.

    Examples
    --------
    >>> check_seed(3)  # with LRSCHED_SEED_OFFSET unset
    3
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative int, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"{name} must be a non-negative int below 2**63, got {seed!r}")
    shifted = seed + seed_offset()
    if not 0 <= shifted <= _MAX_SEED:
        raise ValueError(
            f"{name}={seed} plus {SEED_OFFSET_VARIABLE}={seed_offset()} gives {shifted}, "
            "outside the generators' range [0, 2**63)"
        )
    return shifted


def manual_seed(seed: int) -> int:
    """``torch.manual_seed(seed + seed_offset())``, for a chapter's own seeding.

    Use it where a chapter seeds torch itself (before building a model), so
    the seed shift reaches that initialisation too.

    Parameters
    ----------
    seed : int
        Non-negative seed as written in the chapter.

    Returns
    -------
    int
        The seed actually used.

    Examples
    --------
    >>> from lrsched.lab import TinyMLP
    >>> used = manual_seed(0)
    >>> model = TinyMLP()  # initialised from seed 0 + the offset
    """
    shifted = check_seed(seed)
    torch.manual_seed(shifted)
    return shifted

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
    """A fixed train / validation / test split of the digits images.

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
    x_val : torch.Tensor
        Validation images, like ``x_train``: the part to tune on. Empty (zero
        rows) when the split was built without one.
    y_val : torch.Tensor
        Validation labels, like ``y_train``.

    Examples
    --------
    >>> data = load_digits_split()
    >>> data.x_train.shape, data.x_val.shape, data.x_test.shape
    (torch.Size([1078, 1, 8, 8]), torch.Size([269, 1, 8, 8]), torch.Size([450, 1, 8, 8]))
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    def __post_init__(self) -> None:
        # A split built by hand without validation gets an empty one, so code
        # reading x_val never meets None.
        if (self.x_val is None) != (self.y_val is None):
            raise ValueError("x_val and y_val must be given together (or neither)")
        if self.x_val is None:
            object.__setattr__(self, "x_val", self.x_train[:0].clone())
            object.__setattr__(self, "y_val", self.y_train[:0].clone())
        for part in ("train", "val", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if len(x) != len(y):
                raise ValueError(f"x_{part} has {len(x)} images but y_{part} has {len(y)} labels")

    @property
    def classes(self) -> tuple[int, ...]:
        """The digit values present in the split, sorted."""
        labels = torch.cat([self.y_train, self.y_val, self.y_test]).unique()
        return tuple(int(v) for v in labels)

    @property
    def n_classes(self) -> int:
        """Number of distinct labels in the split (chance accuracy is ``1 / n_classes``)."""
        return len(self.classes)

    def features(self, validation: bool = False) -> tuple[np.ndarray, ...]:
        """The split as flat numpy arrays, for least-squares style chapters.

        Parameters
        ----------
        validation : bool
            Also return the validation part, as ``x_train, y_train, x_val,
            y_val, x_test, y_test``. The default keeps the four-array form.

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
        ((1078, 64), dtype('float64'))
        """

        def flat(x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
            # float64 so that normal equations / lstsq are not limited by float32.
            return x.reshape(len(x), -1).numpy().astype(np.float64), y.numpy().copy()

        parts = [(self.x_train, self.y_train)]
        if validation:
            parts.append((self.x_val, self.y_val))
        parts.append((self.x_test, self.y_test))
        return tuple(a for x, y in parts for a in flat(x, y))

    def __repr__(self) -> str:
        # The default repr would print every pixel.
        return (
            f"DigitsSplit(n_train={len(self.y_train)}, n_val={len(self.y_val)}, "
            f"n_test={len(self.y_test)}, classes={self.classes})"
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


def _check_fraction(name: str, value: object, low_inclusive: bool = False) -> float:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and (0 <= value < 1 if low_inclusive else 0 < value < 1)
    )
    if not ok:
        interval = "[0, 1)" if low_inclusive else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def load_digits_split(
    digits: Sequence[int] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    *,
    val_fraction: float = 0.2,
) -> DigitsSplit:
    """Load scikit-learn's 8x8 digits as a stratified train / validation / test split.

    Each class is shuffled by a generator seeded with ``seed + seed_offset()``
    and cut in three: the first ``test_fraction`` of it is test, the next
    ``val_fraction`` *of the rest* is validation, and what remains is
    training. So train, validation and test are disjoint, have (up to
    rounding) the same class proportions, and the test part for a given seed
    does not depend on ``val_fraction``. The scikit-learn load is cached; each
    call returns fresh tensors that may be modified freely.

    With the defaults (all ten digits, ``test_fraction=0.25``,
    ``val_fraction=0.2``): 1,078 training, 269 validation and 450 test
    images. At 97% accuracy the sampling error of a validation accuracy is
    then about one point (``sqrt(0.97 * 0.03 / 269)``), of a test accuracy
    about 0.8 points: differences smaller than that need paired seeds.

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
        Non-negative seed of the split (not of training); the environment's
        ``LRSCHED_SEED_OFFSET`` is added to it. ``None`` is refused.
    val_fraction : float
        Fraction of each class's non-test part held out for validation, in
        ``[0, 1)``; ``0`` gives an empty validation part (the old two-way
        split, 1,347 training images).

    Returns
    -------
    DigitsSplit
        Images ``(N, 1, 8, 8)`` as ``float32`` in ``[0, 1]`` and ``int64``
        labels. Every class keeps at least one training and one test image
        (and one validation image when ``val_fraction > 0``).

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (e.g. ``None``).
    ValueError
        If a fraction is out of range, ``digits`` names anything but ints in
        ``0``-``9``, the shifted seed is negative, or a class has too few
        images to give every part one.

    Examples
    --------
    >>> data = load_digits_split(digits=(3, 8))
    >>> data.classes
    (3, 8)
    >>> len(data.y_train) + len(data.y_val) + len(data.y_test)
    357
    """
    test_fraction = _check_fraction("test_fraction", test_fraction)
    val_fraction = _check_fraction("val_fraction", val_fraction, low_inclusive=True)
    shifted = check_seed(seed)
    images, labels = _load_raw()
    classes = list(range(10)) if digits is None else _check_digits(digits)

    rng = np.random.default_rng(shifted)
    train_idx, val_idx, test_idx = [], [], []
    for c in classes:  # sorted, so the rng draws happen in a fixed order
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_parts = 3 if val_fraction > 0 else 2
        if len(idx) < n_parts:
            raise ValueError(f"digit {c} has {len(idx)} images, too few for {n_parts} parts")
        # Keep at least one image in each part so no class vanishes from any.
        n_test = min(max(int(round(test_fraction * len(idx))), 1), len(idx) - (n_parts - 1))
        rest = idx[n_test:]
        n_val = 0
        if val_fraction > 0:
            n_val = min(max(int(round(val_fraction * len(rest))), 1), len(rest) - 1)
        test_idx.append(idx[:n_test])
        val_idx.append(rest[:n_val])
        train_idx.append(rest[n_val:])

    def as_tensors(parts: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        # Sorted so the tensors are in dataset order; training shuffles anyway.
        idx = np.sort(np.concatenate(parts)).astype(np.int64)
        # Fancy indexing copies, so the cached arrays are never shared.
        x = torch.from_numpy(images[idx]).unsqueeze(1)  # (N, 1, 8, 8)
        y = torch.from_numpy(labels[idx])
        return x, y

    x_train, y_train = as_tensors(train_idx)
    x_val, y_val = as_tensors(val_idx)
    x_test, y_test = as_tensors(test_idx)
    return DigitsSplit(
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test
    )
