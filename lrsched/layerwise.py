r"""Layer-wise learning-rate decay for fine-tuning (book chapter 6).

With :math:`L` numbered layers (0-based, counted from the input) and a decay
:math:`0 < \delta \le 1`, the head keeps the base lr :math:`\eta` and the
layers below it get geometrically smaller rates. Two conventions are in use:

* **BEiT** (Bao et al. 2022; also MAE): layer :math:`i` gets
  :math:`\eta\,\delta^{L - i}`, the embeddings :math:`\eta\,\delta^{L + 1}`.
  The top layer trains at :math:`\eta\,\delta`.
* **ELECTRA** (Clark et al. 2020, ``_get_layer_lrs``): the embeddings have
  depth 0, layer :math:`i` depth :math:`i + 1`, the task head depth
  :math:`L + 2`, and the lr is :math:`\eta\,\delta^{L + 2 - \text{depth}}`:
  layer :math:`i` gets :math:`\eta\,\delta^{L + 1 - i}` (the top layer
  :math:`\eta\,\delta^2`), the embeddings :math:`\eta\,\delta^{L + 2}`.

ELECTRA's stack is BEiT's one factor :math:`\delta` lower below the head.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from torch import nn

from . import _checks

# "encoder.layer.3.", "layers.3.", "blocks.3.", "h.3." (GPT-2), "layer.3." ...
_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|blocks|block|h)\.(\d+)(?:\.|$)")
_EMBEDDING_HINTS = ("embed", "wte", "wpe", "cls_token", "pos_emb")
CONVENTIONS = ("beit", "electra")


def decay_exponent(depth: int, convention: str = "beit") -> int:
    """Power of the decay for a tier at ``depth`` (0 = head, ``L + 1`` = embeddings).

    BEiT uses the depth itself; ELECTRA adds one below the head (its head sits
    two steps above the top layer, BEiT's one).

    Examples
    --------
    >>> [decay_exponent(d, "beit") for d in range(4)]
    [0, 1, 2, 3]
    >>> [decay_exponent(d, "electra") for d in range(4)]
    [0, 2, 3, 4]
    """
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be one of {CONVENTIONS}, got {convention!r}"
        )
    return depth + 1 if convention == "electra" and depth > 0 else depth


def _no_weight_decay(name: str, param: nn.Parameter) -> bool:
    # Biases and normalisation weights are 1-D; decaying them only fights the normalisation.
    return param.ndim <= 1 or name.endswith(".bias") or "norm" in name.lower()


def _check_overrides(overrides: Mapping[str, str | int] | None, num_layers: int) -> dict[str, int]:
    """Map each override prefix to its depth (0 = head, L + 1 = embeddings)."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping of name prefix to tier, got {type(overrides).__name__}")
    depths = {}
    for prefix, tier in overrides.items():
        if tier == "head":
            depths[prefix] = 0
        elif tier == "embeddings":
            depths[prefix] = num_layers + 1
        elif isinstance(tier, int) and not isinstance(tier, bool) and 0 <= tier < num_layers:
            depths[prefix] = num_layers - tier
        else:
            raise ValueError(
                f"overrides[{prefix!r}] must be 'embeddings', 'head' or a layer index in [0, {num_layers - 1}], "
                f"got {tier!r}"
            )
    return depths


def layer_decay_param_groups(
    model: nn.Module,
    lr: float,
    decay: float,
    weight_decay: float = 0.0,
    *,
    overrides: Mapping[str, str | int] | None = None,
    convention: str = "beit",
) -> list[dict[str, Any]]:
    r"""Optimizer param groups with layer-wise lr decay, read from parameter names.

    Parameters are sorted into tiers by name: *embeddings* (names containing ``embed``, ``wte``,
    ``wpe``, ``cls_token`` or ``pos_emb``, and anything before the first numbered layer), *layer i*
    (a numbered container such as ``encoder.layer.i``, ``layers.i``, ``blocks.i``, ``h.i``) and the
    *head* (everything after the last layer). With ``L`` layers:

    .. math::

        \text{beit:}\quad \eta_{head} = \eta,\quad
        \eta_i = \eta\,\delta^{L - i},\quad \eta_{emb} = \eta\,\delta^{L + 1}

        \text{electra:}\quad \eta_{head} = \eta,\quad
        \eta_i = \eta\,\delta^{L + 1 - i},\quad \eta_{emb} = \eta\,\delta^{L + 2}

    Biases and norm weights get ``weight_decay=0``. Each group carries a ``"name"`` (``"embeddings"``,
    ``"layer.i"``, ``"head"``) and a ``"depth"`` (0 for the head, ``L + 1`` for embeddings).

    Parameters
    ----------
    model:
        Any torch module with numbered layers.
    lr:
        Base lr, given to the head.
    decay:
        Per-layer factor ``0 < decay <= 1`` (1 means no decay).
    weight_decay:
        Weight decay of the weight matrices.
    overrides:
        Tier of parameters the name rule places wrongly, keyed by a name prefix: ``"embeddings"``,
        ``"head"`` or a layer index. The longest matching prefix wins. E.g. DeBERTa's shared
        ``deberta.encoder.LayerNorm`` follows the last layer by position, so the rule makes it
        head; ``{"deberta.encoder.LayerNorm": "embeddings"}`` keeps it with the relative
        embeddings it normalises.
    convention:
        ``"beit"`` (default; BEiT, MAE) or ``"electra"`` (ELECTRA's
        ``_get_layer_lrs``: every tier below the head one factor lower).

    Returns
    -------
    list of dict
        Param groups for any torch optimizer, from the embeddings up to the head.

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.Module()
    >>> model.embed = nn.Linear(2, 2); model.layers = nn.ModuleList([nn.Linear(2, 2)] * 1)
    >>> model.head = nn.Linear(2, 2)
    >>> [(g["name"], g["lr"]) for g in layer_decay_param_groups(model, lr=1.0, decay=0.5)][::2]
    [('embeddings', 0.25), ('layer.0', 0.5), ('head', 1.0)]
    >>> groups = layer_decay_param_groups(
    ...     model, lr=1.0, decay=0.5, convention="electra")
    >>> [(g["name"], g["lr"]) for g in groups][::2]
    [('embeddings', 0.125), ('layer.0', 0.25), ('head', 1.0)]

    References
    ----------
    Clark et al. (2020), ELECTRA, ICLR; Bao et al. (2022), BEiT, ICLR.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    lr = _checks.learning_rate("lr", lr)
    decay = _checks.real("decay", decay, low=0.0, high=1.0, low_open=True)
    weight_decay = _checks.real("weight_decay", weight_decay, low=0.0)
    if not isinstance(convention, str):
        raise TypeError(
            f"convention must be a str, got {type(convention).__name__}"
        )
    decay_exponent(0, convention)  # validates the name

    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    layer_of = {name: int(m.group(1)) for name, _ in named if (m := _LAYER.search(name))}
    if not layer_of:
        raise ValueError(
            "model has no numbered layers (names like 'encoder.layer.N', 'layers.N', 'blocks.N', 'h.N'); "
            f"got names such as {[n for n, _ in named[:3]]}"
        )
    num_layers = max(layer_of.values()) + 1
    order = [name for name, _ in named]
    first_layer = min(order.index(n) for n in layer_of)

    tier_of = _check_overrides(overrides, num_layers)

    def depth(position: int, name: str) -> int:
        prefixes = [prefix for prefix in tier_of if name == prefix or name.startswith(prefix + ".")]
        if prefixes:
            return tier_of[max(prefixes, key=len)]
        if name in layer_of:
            return num_layers - layer_of[name]
        if any(hint in name for hint in _EMBEDDING_HINTS) or position < first_layer:
            return num_layers + 1
        return 0  # after the last layer: the head

    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for position, (name, param) in enumerate(named):
        d = depth(position, name)
        no_decay = _no_weight_decay(name, param)
        key = (d, no_decay)
        if key not in groups:
            tier = "head" if d == 0 else "embeddings" if d == num_layers + 1 else f"layer.{num_layers - d}"
            groups[key] = {
                "params": [],
                "lr": lr * decay ** decay_exponent(d, convention),
                "weight_decay": 0.0 if no_decay else weight_decay,
                "name": tier,
                "depth": d,
            }
        groups[key]["params"].append(param)
    return [groups[key] for key in sorted(groups, key=lambda k: (-k[0], k[1]))]


def deberta_v3_large_lr_scheduler(
    model: nn.Module,
    layer_low_threshold: int = 195,
    layer_middle_threshold: int = 323,
    head_param_start: int = 390,
    base_lr: float = 2e-5,
    head_lr: float = 1e-4,
    wd: float = 1e-2,
) -> list[dict[str, Any]]:
    """The three-tier DeBERTa-v3-large grouping of pytorch-optimizer, reproduced exactly.

    Keyed on the *index* of each parameter in ``model.named_parameters()`` (not on layers): the
    parameters from ``head_param_start`` on form one group at ``head_lr`` (first in the list, no
    ``weight_decay`` key); every earlier parameter gets its own group with lr ``base_lr / 2.5`` below
    ``layer_low_threshold``, ``base_lr`` up to ``layer_middle_threshold`` and ``base_lr / 0.5`` from
    there, and ``weight_decay=0`` for names containing ``bias`` or ``LayerNorm.weight`` (else ``wd``).

    On DeBERTa-v3-large the indices 195, 323 and 390 are the first parameters of encoder layer 12,
    encoder layer 20 and the head. On any other model they fall wherever they fall: prefer
    :func:`layer_decay_param_groups`, which reads names.

    The original comments call ``base_lr / 2.5`` "2e-5" and ``base_lr / 0.5`` "1e-4"; with the
    default ``base_lr=2e-5`` they are 8e-6 and 4e-5.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    low = _checks.integer("layer_low_threshold", layer_low_threshold, minimum=0)
    middle = _checks.integer("layer_middle_threshold", layer_middle_threshold, minimum=0)
    head_start = _checks.integer("head_param_start", head_param_start, minimum=0)
    _checks.not_above("layer_low_threshold", low, "layer_middle_threshold", middle)
    _checks.not_above("layer_middle_threshold", middle, "head_param_start", head_start)
    base_lr = _checks.learning_rate("base_lr", base_lr)
    head_lr = _checks.learning_rate("head_lr", head_lr)
    wd = _checks.real("wd", wd, low=0.0)

    named = list(model.named_parameters())
    groups: list[dict[str, Any]] = [{"params": [p for _, p in named[head_start:]], "lr": head_lr}]
    for index, (name, param) in enumerate(named[:head_start]):
        lr = base_lr / 0.5 if index >= middle else base_lr if index >= low else base_lr / 2.5
        decay = 0.0 if ("bias" in name or "LayerNorm.weight" in name) else wd
        groups.append({"params": param, "weight_decay": decay, "lr": lr})
    return groups
