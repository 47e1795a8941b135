r"""Sharpness-aware minimisation (SAM) and a sharpness proxy, for the chapter on scheduling rho.

SAM (Foret et al., ICLR 2021) minimises the worst loss in a ball of radius :math:`\rho`
around the weights. Each step approximates that worst point by one normalised gradient
ascent step and descends with the gradient found there:

.. math::

    \epsilon_t = \rho_t \, \frac{\nabla L(w_t)}{\lVert \nabla L(w_t) \rVert_2}, \qquad
    w_{t+1} = \mathrm{base\_step}\big(w_t,\; \nabla L(w_t + \epsilon_t)\big).

:class:`SAM` wraps any torch optimizer (the *base* optimizer) and keeps :math:`\rho` in every
param group under the key ``"rho"``, next to ``"lr"``, so that a schedule can write it each step
like any other hyperparameter. :class:`HyperparameterScheduler` is that writer: it steps a value
scheduler (e.g. :class:`lrsched.ProportionScheduler`, GSAM's rule :math:`\rho_t \propto \eta_t`) or
evaluates a closed form of the step, and writes the value into a param-group key.

:func:`sharpness` is the proxy the chapter reports: the mean loss increase under random weight
perturbations of a given relative size.

Like the rest of the lab, this module does not import lrsched's schedules.

Examples
--------
>>> import torch
>>> from lrsched.lab import TinyMLP, train
>>> from lrsched.lab.sam import SAM
>>> _ = torch.manual_seed(0)
>>> model = TinyMLP()
>>> optimizer = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
>>> history = train(model, optimizer, steps=300, progress=False)
>>> history.final_test_accuracy > 0.9
True
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from .data import DigitsSplit, check_seed

__all__ = ["SAM", "GSAM", "HyperparameterScheduler", "sharpness"]


def _check_rho(rho: Any) -> float:
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not math.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be a finite number >= 0, got {rho!r}")
    return float(rho)


class SAM(Optimizer):
    r"""Sharpness-aware minimisation around any torch optimizer.

    ``step(closure)`` evaluates the closure at the current weights :math:`w`, moves the weights
    to :math:`w + \epsilon` with :math:`\epsilon = \rho\, g / \lVert g \rVert_2` (:math:`g` the
    gradient of all parameters together, each group scaled by its own ``"rho"``), evaluates the
    closure again there, puts the weights back to exactly :math:`w`, and lets the base optimizer
    step with the gradient of the perturbed point. Each step therefore costs two forward and
    backward passes.

    The param groups are shared with the base optimizer, so an lr scheduler may wrap either
    one, and ``"rho"`` is a param-group key like ``"lr"``: read or set it per group, or for all
    groups through :attr:`rho`.

    Parameters
    ----------
    params : Iterable
        Parameters or param-group dicts, as for any torch optimizer. A group may set its own
        ``"rho"``.
    base_optimizer_cls : type
        The optimizer class that takes the actual step, e.g. ``torch.optim.SGD``.
    rho : float
        Default radius of the perturbation, ``>= 0``. With ``rho=0`` a step equals the base
        optimizer's step exactly (at twice the cost).
    **kwargs
        Passed on to ``base_optimizer_cls`` (``lr``, ``momentum``, ...).

    Attributes
    ----------
    base_optimizer : torch.optim.Optimizer
        The wrapped optimizer; its state (e.g. momentum buffers) is SAM's state.
    last_perturbation_norm : float
        :math:`\lVert \epsilon \rVert_2` of the last step (``nan`` before the first), which is
        the ``rho`` that step used when all groups share one ``rho`` and the gradient was
        nonzero.
    last_surrogate_gap : float
        :math:`h = L(w + \epsilon) - L(w)` on the last step's batch (``nan`` before the first):
        the surrogate gap of Zhuang et al. (2022), which :class:`GSAM` also minimises.

    Notes
    -----
    The closure must zero the gradients, compute the loss and call ``backward()``, as the lab's
    :func:`~lrsched.lab.train` does. ``step`` returns the loss of the first evaluation, at the
    unperturbed weights. A zero gradient gives no perturbation. Only parameters whose
    ``.grad`` is set after the first evaluation are perturbed.

    Examples
    --------
    Wrap an optimizer class, or an optimizer that already exists:

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    >>> opt = SAM([w], torch.optim.SGD, rho=0.5, lr=0.1)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = 0.5 * (w**2).sum()  # gradient w, norm 5
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)  # gradient at w + 0.5 * w / 5 = 1.1 * w
    >>> w.detach()
    tensor([2.6700, 3.5600])
    >>> sam = SAM.wrap(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3), rho=0.05)
    >>> sam.rho, sam.param_groups[0]["lr"]
    (0.05, 0.001)
    """

    def __init__(
        self,
        params: Iterable[Any],
        base_optimizer_cls: type[Optimizer] = torch.optim.SGD,
        rho: float = 0.05,
        **kwargs: Any,
    ) -> None:
        rho = _check_rho(rho)
        if not (isinstance(base_optimizer_cls, type) and issubclass(base_optimizer_cls, Optimizer)):
            raise TypeError(f"base_optimizer_cls must be a torch optimizer class, got {base_optimizer_cls!r}")
        super().__init__(params, {"rho": rho, **kwargs})
        for group in self.param_groups:
            group["rho"] = _check_rho(group["rho"])
        # The base optimizer gets SAM's group dicts themselves, so both see one set of groups.
        self.base_optimizer = base_optimizer_cls(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.last_perturbation_norm = math.nan
        self.last_surrogate_gap = math.nan

    @classmethod
    def wrap(cls, optimizer: Optimizer, rho: float = 0.05) -> SAM:
        """SAM around an optimizer that already exists, sharing its param groups and state.

        Parameters
        ----------
        optimizer : torch.optim.Optimizer
            The base optimizer; keep using it for nothing else.
        rho : float
            Radius for every group that has no ``"rho"`` yet.

        Returns
        -------
        SAM
        """
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(optimizer, SAM):
            raise TypeError("optimizer is already a SAM optimizer")
        rho = _check_rho(rho)
        self = cls.__new__(cls)
        Optimizer.__init__(self, optimizer.param_groups, {"rho": rho})
        for group in self.param_groups:
            group["rho"] = _check_rho(group["rho"])
        self.base_optimizer = optimizer
        self.param_groups = optimizer.param_groups
        self.last_perturbation_norm = math.nan
        self.last_surrogate_gap = math.nan
        return self

    @property
    def rho(self) -> float:
        """The radius of every group; setting it writes it into every group.

        Reading raises ``ValueError`` when the groups hold different values.
        """
        values = {float(group["rho"]) for group in self.param_groups}
        if len(values) != 1:
            raise ValueError(f"the param groups have different rho values: {sorted(values)}")
        return values.pop()

    @rho.setter
    def rho(self, value: float) -> None:
        value = _check_rho(value)
        for group in self.param_groups:
            group["rho"] = value

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:  # type: ignore[override]
        """One SAM step: ascend to the perturbed point, take its gradient, restore, descend.

        Parameters
        ----------
        closure : callable
            Zeroes the gradients, computes the loss, calls ``backward()`` and returns the loss.
            Required: SAM evaluates it twice.

        Returns
        -------
        torch.Tensor
            The loss at the weights the step started from.

        Raises
        ------
        ValueError
            If a group's ``"rho"`` is negative or not finite (e.g. written by a schedule that
            does not clamp): a negative radius would turn the ascent step into a descent step.
        """
        if closure is None:
            raise ValueError("SAM needs a closure: it evaluates the loss at two points per step")
        for group in self.param_groups:  # a schedule may have written any number here
            _check_rho(group["rho"])
        with torch.enable_grad():
            loss = closure()

        pairs = [(group, p) for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not pairs:
            self.last_perturbation_norm = math.nan
            self.last_surrogate_gap = math.nan
            self.base_optimizer.step()
            return loss
        # One global norm over every parameter, as in Foret et al. (float64 to avoid overflow).
        grad_norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for _, p in pairs))
        saved = []
        squared = 0.0
        for group, p in pairs:
            scale = float(group["rho"]) / grad_norm if grad_norm > 0 else 0.0
            epsilon = p.grad * scale
            squared += float(epsilon.double().pow(2).sum())
            saved.append(p.detach().clone())
            p.add_(epsilon)
        self.last_perturbation_norm = math.sqrt(squared)

        first_gradients = self._keep_first_gradients(pairs)
        with torch.enable_grad():
            perturbed_loss = closure()
        if loss is None or perturbed_loss is None:
            self.last_surrogate_gap = math.nan
        else:  # h = L(w + epsilon) - L(w) on this batch, which GSAM shrinks
            self.last_surrogate_gap = float(perturbed_loss) - float(loss)
        for (_, p), original in zip(pairs, saved):
            p.copy_(original)  # exactly w again: subtracting epsilon back could round
        self._adjust_gradients(pairs, first_gradients)
        self.base_optimizer.step()
        return loss

    def _keep_first_gradients(self, pairs: list[tuple[dict, torch.Tensor]]) -> list[torch.Tensor] | None:
        """What a subclass needs of the gradient at w before the second pass overwrites it."""
        return None

    def _adjust_gradients(
        self, pairs: list[tuple[dict, torch.Tensor]], first_gradients: list[torch.Tensor] | None
    ) -> None:
        """Turn the perturbed gradient in ``p.grad`` into the descent direction (SAM: as it is)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients (through the base optimizer, which owns the same groups)."""
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The base optimizer's state dict; its groups carry ``"rho"``."""
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load into the base optimizer and share its (new) groups again."""
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups

    def __repr__(self) -> str:
        return f"SAM(base_optimizer={type(self.base_optimizer).__name__}, rho={[g['rho'] for g in self.param_groups]})"


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


class GSAM(SAM):
    r"""Surrogate-gap guided SAM (GSAM, Zhuang et al., ICLR 2022) around any torch optimizer.

    SAM descends on the perturbed loss :math:`L_p(w) = L(w + \epsilon)`. GSAM also shrinks the
    *surrogate gap* :math:`h(w) = L_p(w) - L(w)`, a measure of sharpness, without working
    against :math:`L_p`: it splits the gradient :math:`g = \nabla L(w)` into its part along the
    perturbed gradient :math:`g_p = \nabla L(w + \epsilon)` and the part orthogonal to it,

    .. math::

        g_\perp = g - \frac{g^\top g_p}{\lVert g_p \rVert_2^2}\, g_p ,

    and hands the base optimizer

    .. math::

        d = g_p - \alpha\, g_\perp .

    Descending along :math:`d` descends on :math:`L_p` and *ascends* on :math:`L` along
    :math:`g_\perp` (a step of weight :math:`\alpha`), which lowers :math:`h = L_p - L` while, to
    first order, leaving :math:`L_p` unchanged (:math:`g_\perp \perp g_p`). With ``alpha=0`` a
    step is SAM's exactly.

    The radius is the param-group key ``"rho"`` as in :class:`SAM`; GSAM schedules it with
    the learning rate, :math:`\rho_t \propto \eta_t` (``lrsched.ProportionScheduler`` written by
    :class:`HyperparameterScheduler`), which its convergence analysis relies on.

    Parameters
    ----------
    params, base_optimizer_cls, rho, **kwargs
        As for :class:`SAM`.
    alpha : float
        Weight of the ascent step along :math:`g_\perp`, in ``[0, 1]`` (the paper searches
        0.01 to 0.3).

    Notes
    -----
    The inner product and norms are taken over all parameters together, in float64. A zero
    perturbed gradient has no direction to project on: all of :math:`g` counts as orthogonal.
    pytorch-optimizer's ``GSAM`` computes the same step (with ``1e-12`` added to its
    denominators); the test suite checks one step against it.

    References
    ----------
    Zhuang, J., Gong, B., Yuan, L., Cui, Y., Adam, H., Dvornek, N., Tatikonda, S., Duncan, J.,
    Liu, T. (2022). Surrogate Gap Minimization Improves Sharpness-Aware Training. ICLR 2022.

    Examples
    --------
    On :math:`L(w) = \tfrac12 (w_1^2 + 4 w_2^2)` at :math:`w = (1, 1)`: :math:`g = (1, 4)`.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
    >>> opt = GSAM([w], torch.optim.SGD, rho=0.5, alpha=0.5, lr=0.1)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = 0.5 * (w[0] ** 2 + 4 * w[1] ** 2)
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> w.detach().numpy().round(4)  # SAM alone: [0.8879, 0.406]
    array([0.8997, 0.4037])
    """

    def __init__(
        self,
        params: Iterable[Any],
        base_optimizer_cls: type[Optimizer] = torch.optim.SGD,
        rho: float = 0.05,
        alpha: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.alpha = _check_alpha(alpha)
        super().__init__(params, base_optimizer_cls, rho=rho, **kwargs)

    @classmethod
    def wrap(cls, optimizer: Optimizer, rho: float = 0.05, alpha: float = 0.1) -> GSAM:  # type: ignore[override]
        """GSAM around an optimizer that already exists (see :meth:`SAM.wrap`)."""
        alpha = _check_alpha(alpha)
        self = super().wrap.__func__(cls, optimizer, rho=rho)  # type: ignore[attr-defined]
        self.alpha = alpha
        return self

    def _keep_first_gradients(self, pairs: list[tuple[dict, torch.Tensor]]) -> list[torch.Tensor]:
        return [p.grad.detach().clone() for _, p in pairs]

    def _adjust_gradients(
        self, pairs: list[tuple[dict, torch.Tensor]], first_gradients: list[torch.Tensor] | None
    ) -> None:
        alpha = _check_alpha(self.alpha)  # an attribute: someone may have set it
        if first_gradients is None or alpha == 0.0:
            return
        inner = sum(float((g.double() * p.grad.double()).sum()) for g, (_, p) in zip(first_gradients, pairs))
        squared = sum(float(p.grad.double().pow(2).sum()) for _, p in pairs)
        along = inner / squared if squared > 0 else 0.0  # g's coordinate along g_p
        for g, (_, p) in zip(first_gradients, pairs):
            orthogonal = g - along * p.grad
            p.grad.add_(orthogonal, alpha=-alpha)

    def __repr__(self) -> str:
        rhos = [g["rho"] for g in self.param_groups]
        return f"GSAM(base_optimizer={type(self.base_optimizer).__name__}, rho={rhos}, alpha={self.alpha})"


class HyperparameterScheduler:
    """Write a scheduled value into one key of every param group, once per step.

    The same convention as lrsched's lr schedulers: after construction the groups hold the
    value of step 0; after ``k`` calls of :meth:`step`, that of step ``k``. Step it once per
    optimizer step, e.g. by passing it to :func:`~lrsched.lab.train` next to the lr scheduler.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Whose param groups receive the value (for SAM's radius: the :class:`SAM` optimizer).
    key : str
        The param-group key, e.g. ``"rho"``, ``"weight_decay"`` or ``"momentum"``. It must exist
        in every group already (a missing key is most likely a typo the optimizer would ignore).
    source : lrsched.ProportionScheduler or callable
        Either a value scheduler with ``step()`` returning the new value (such as
        :class:`lrsched.ProportionScheduler`; its current value is read at construction from
        ``get_last_value()``, or ``get_lr()``), which this object steps; or a callable of the step
        number ``t = 0, 1, 2, ...`` returning the value (a closed form such as an lrsched
        ``Schedule``).

    Examples
    --------
    >>> import torch
    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([p], lr=0.1, weight_decay=0.0)
    >>> wd = HyperparameterScheduler(opt, "weight_decay", lambda t: 1e-3 / (1 + t))
    >>> opt.param_groups[0]["weight_decay"]
    0.001
    >>> wd.step()
    0.0005
    >>> opt.param_groups[0]["weight_decay"]
    0.0005
    """

    def __init__(self, optimizer: Optimizer, key: str, source: Any) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"optimizer must be a torch optimizer, got {type(optimizer).__name__}")
        missing = [i for i, group in enumerate(optimizer.param_groups) if key not in group]
        if missing:
            raise KeyError(f"param groups {missing} have no key {key!r}; set it in the optimizer first")
        self.optimizer = optimizer
        self.key = key
        self.source = source
        self.is_stepped_source = hasattr(source, "step")
        if not self.is_stepped_source and not callable(source):
            raise TypeError("source must have a step() method or be a callable of the step number")
        self.step_t = 0
        if self.is_stepped_source:
            current = getattr(source, "get_last_value", None) or getattr(source, "get_lr", None)
            if current is None:
                raise TypeError("a stepped source needs get_last_value() or get_lr() to read its value at step 0")
            value = current()
        else:
            value = source(0)
        self._write(value)

    def _write(self, value: Any) -> None:
        value = float(value)
        for group in self.optimizer.param_groups:
            group[self.key] = value
        self._last_value = value

    def step(self) -> float:
        """Advance one step, write the new value into every group and return it."""
        self.step_t += 1
        value = self.source.step() if self.is_stepped_source else self.source(self.step_t)
        self._write(value)
        return self._last_value

    def get_last_value(self) -> float:
        """The value the groups hold now."""
        return self._last_value

    def state_dict(self) -> dict[str, Any]:
        """The step counter and current value as plain numbers, plus the source's state if it has one."""
        state: dict[str, Any] = {"step_t": self.step_t, "last_value": self._last_value}
        if hasattr(self.source, "state_dict"):
            state["source"] = self.source.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counter (and the source's state) and write the saved value into the groups."""
        self.step_t = int(state_dict["step_t"])
        if "source" in state_dict and hasattr(self.source, "load_state_dict"):
            self.source.load_state_dict(state_dict["source"])
        self._write(state_dict["last_value"])


def _batch(data: DigitsSplit | tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, DigitsSplit):
        return data.x_train, data.y_train
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError("data must be a DigitsSplit or a pair (inputs, labels)") from None
    return x, y


@torch.no_grad()
def sharpness(
    model: nn.Module,
    data: DigitsSplit | tuple[torch.Tensor, torch.Tensor],
    radius: float = 0.05,
    n_samples: int = 10,
    seed: int = 0,
) -> float:
    r"""Mean loss increase under random weight perturbations of relative size ``radius``.

    For each of ``n_samples`` draws, every parameter tensor :math:`w_i` is moved by a Gaussian
    direction rescaled to norm ``radius`` :math:`\cdot \lVert w_i \rVert_2`, and the cross-entropy
    on ``data`` is compared with that at the unperturbed weights:

    .. math:: S = \frac1n \sum_{k=1}^{n} \big( L(w + \delta_k) - L(w) \big),
              \qquad \lVert \delta_{k,i} \rVert = r\, \lVert w_i \rVert .

    Scaling per tensor makes the measure indifferent to how the weights are split among layers
    of different sizes. A flat minimum gives a small :math:`S`, a sharp one a large :math:`S`; it
    is a proxy (an average, not SAM's worst case), to compare models trained on the same data.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; its weights are restored exactly afterwards and it is left in the
        training/eval mode it had.
    data : DigitsSplit or tuple of Tensor
        A split (its training set is used: sharpness is a property of the training loss) or a
        pair ``(inputs, labels)`` of tensors.
    radius : float
        Relative size of the perturbation, ``> 0``.
    n_samples : int
        Number of random directions averaged.
    seed : int
        Seeds the directions (a private generator: the global torch seed is untouched), so
        every model can be measured along equally drawn directions.

    Returns
    -------
    float
        The mean loss increase (can be slightly negative for a tiny radius).

    Examples
    --------
    >>> import torch
    >>> from lrsched.lab import TinyMLP, load_digits_split
    >>> _ = torch.manual_seed(0)
    >>> model = TinyMLP()
    >>> s = sharpness(model, load_digits_split(), radius=0.1, n_samples=4)
    >>> isinstance(s, float)
    True
    """
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    x, y = _batch(data)
    params = [p for p in model.parameters()]
    saved = [p.detach().clone() for p in params]
    was_training = model.training
    model.eval()
    # seed + LRSCHED_SEED_OFFSET, validated (None is an error, not a random draw)
    generator = torch.Generator().manual_seed(check_seed(seed))
    try:
        base = F.cross_entropy(model(x), y).item()
        increases = []
        for _ in range(int(n_samples)):
            for p, w in zip(params, saved):
                direction = torch.randn(w.shape, generator=generator, dtype=w.dtype)
                norm = direction.norm()
                scale = float(radius) * w.norm() / norm if norm > 0 else 0.0
                p.copy_(w + direction.to(w.device) * scale)
            increases.append(F.cross_entropy(model(x), y).item() - base)
    finally:
        for p, w in zip(params, saved):
            p.copy_(w)
        model.train(was_training)
    return float(sum(increases) / len(increases))
