"""Tiny models for the 8x8 digits, small enough to train in a second on a CPU.

Parameter names follow a transformer-like layout -- an optional ``embed``,
numbered ``layers.<i>`` / ``blocks.<i>``, then a ``head`` -- so that chapters on
layer-wise learning-rate decay can read a parameter's depth from its name.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TinyMLP", "TinyCNN"]


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class _LinearReLU(nn.Linear):
    """``relu(linear(x))`` as one module, so its parameters are named
    ``<block>.weight`` / ``<block>.bias`` with no extra ``.0`` level."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x))


class TinyMLP(nn.Module):
    """A multilayer perceptron on the flattened 8x8 image.

    ``flatten -> [Linear -> ReLU] * depth -> Linear``. Its parameters are
    named ``layers.0.weight``, ``layers.0.bias``, ..., ``head.weight``,
    ``head.bias``. Construction is deterministic given ``torch.manual_seed``.

    Parameters
    ----------
    hidden : int
        Width of every hidden layer.
    num_classes : int
        Number of outputs. Keep the default 10 when training on a subset of
        digits: labels keep their digit values.
    depth : int
        Number of hidden ``Linear -> ReLU`` blocks (at least 1).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = TinyMLP(hidden=32, depth=2)
    >>> [name for name, _ in model.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'head.weight', 'head.bias']
    >>> model(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """

    def __init__(self, hidden: int = 64, num_classes: int = 10, depth: int = 1) -> None:
        super().__init__()
        hidden = _check_positive_int("hidden", hidden)
        num_classes = _check_positive_int("num_classes", num_classes)
        depth = _check_positive_int("depth", depth)
        widths = [64] + [hidden] * depth
        self.layers = nn.ModuleList(_LinearReLU(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for images ``(N, 1, 8, 8)`` or ``(N, 64)``."""
        x = x.flatten(1)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters of the hidden layers (everything but the head)."""
        return list(self.layers.parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        """Parameters of the final linear classifier."""
        return list(self.head.parameters())


class _ConvBlock(nn.Module):
    """3x3 same-padding convolution, ReLU, then an optional 2x2 max-pool."""

    def __init__(self, c_in: int, c_out: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        return F.max_pool2d(x, 2) if self.pool else x

    def extra_repr(self) -> str:
        return f"pool={self.pool}"


class TinyCNN(nn.Module):
    """A small convolutional network for the 8x8 digits.

    ``embed`` (3x3 conv ``1 -> channels[0]`` + ReLU at full resolution), then
    one block per further entry of ``channels`` (3x3 conv + ReLU, followed by a
    2x2 max-pool while the feature map is at least 2x2), then global average
    pooling and a linear ``head``. Parameter names are ``embed.conv.*``,
    ``blocks.<i>.conv.*`` and ``head.weight`` / ``head.bias``. Construction is
    deterministic given ``torch.manual_seed``.

    Parameters
    ----------
    channels : tuple of int
        Output channels of the embedding conv followed by those of each block;
        ``(8, 16)`` gives one block. A single entry gives no blocks.
    num_classes : int
        Number of outputs.

    Examples
    --------
    >>> import torch
    >>> model = TinyCNN(channels=(8, 16, 32))
    >>> len(model.blocks), model(torch.zeros(5, 1, 8, 8)).shape
    (2, torch.Size([5, 10]))
    >>> for p in model.backbone_parameters():  # fine-tune the head only
    ...     p.requires_grad = False
    """

    def __init__(self, channels: Sequence[int] = (8, 16), num_classes: int = 10) -> None:
        super().__init__()
        channels = tuple(channels)
        if not channels:
            raise ValueError(f"channels must name at least one width, got {channels!r}")
        channels = tuple(_check_positive_int("channels entries", c) for c in channels)
        num_classes = _check_positive_int("num_classes", num_classes)
        self.embed = _ConvBlock(1, channels[0], pool=False)
        blocks, size = [], 8
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            pool = size >= 2  # pooling a 1x1 map would fail
            blocks.append(_ConvBlock(c_in, c_out, pool=pool))
            size //= 2 if pool else 1
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for images ``(N, 1, 8, 8)``."""
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=(2, 3)))  # global average pool, then flatten

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters of ``embed`` and all ``blocks`` (everything but the head)."""
        return [*self.embed.parameters(), *self.blocks.parameters()]

    def head_parameters(self) -> list[nn.Parameter]:
        """Parameters of the final linear classifier."""
        return list(self.head.parameters())
