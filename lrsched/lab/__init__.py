"""The lab: data, tiny models and the one training loop the chapters share.

Chapters train through :func:`train` (one run) or :func:`compare` (several
schedules over several seeds) and never write their own loop. The loop takes
any torch optimizer and any torch learning-rate scheduler (lrsched's, torch's
or the reference library's alike), so chapters can put them side by side.
Only the LR range test uses an lrsched closed form, for its exponential ramp.

The protocol (issue 14): :func:`load_digits_split` gives train / validation /
test; tune on validation (:func:`tune`, :meth:`Comparison.best`), report on
test. :class:`Comparison` gives 95% Student t intervals over seeds and paired
per-seed differences against a baseline (:mod:`lrsched.lab.stats`); failed runs
are counted and kept out of means. Every seed the lab uses is shifted by
``LRSCHED_SEED_OFFSET`` (:func:`seed_offset`); ``make seed-check OFFSET=1000``
re-runs the book that way.

Examples
--------
>>> import torch
>>> from lrsched.lab import TinyMLP, train
>>> _ = torch.manual_seed(0)
>>> model = TinyMLP()
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> history = train(model, optimizer, steps=300, progress=False)
>>> history.final_test_accuracy > 0.9
True
"""

from .compare import Comparison, TuneResult, compare, start_workers, tune
from .data import DigitsSplit, check_seed, load_digits_split, manual_seed
from .models import TinyCNN, TinyMLP
from .range_test import RangeTestResult, lr_range_test, smooth_losses, suggest_lr
from .sam import SAM, HyperparameterScheduler, sharpness
from .sam import GSAM
from .stats import Interval, mean_ci, paired_difference, seed_offset
from .trainer import History, lrs_used, train

__all__ = [
    "Comparison",
    "GSAM",
    "DigitsSplit",
    "History",
    "HyperparameterScheduler",
    "Interval",
    "RangeTestResult",
    "SAM",
    "TinyCNN",
    "TinyMLP",
    "TuneResult",
    "check_seed",
    "compare",
    "load_digits_split",
    "mean_ci",
    "paired_difference",
    "lr_range_test",
    "lrs_used",
    "manual_seed",
    "seed_offset",
    "sharpness",
    "start_workers",
    "smooth_losses",
    "suggest_lr",
    "train",
    "tune",
]
