"""Several outputs: a loss, a weight and metrics per output, bound to the model's outputs.

``compile`` accepts, as Keras does, ``loss`` as one loss (applied to every
output), a list (by position) or a dict (by output name); ``loss_weights`` as
a float, a list or a dict; ``metrics`` and ``weighted_metrics`` as a list of
lists (or of single metrics), one entry per output, or a dict by output name.
`check` validates the form at compile time (`OutputsLoss`); `OutputsLoss.bind`
resolves it against the model's outputs at the first ``fit``/``evaluate``,
before any step, into `BoundOutputs`: the total loss (the weighted sum of the
per-output losses), the targets conformed per output, and the metrics, which
include one ``<output>_loss`` per output for the logs.

Output names: the keys of a dict output; else the module's ``output_names``
(functional Keras models name each output after the layer that makes it);
else ``output_1``, ``output_2``, ... by position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from epochal import losses as losses_mod
from epochal import metrics as metrics_mod
from epochal._heads import tensor_form
from epochal._metric_kinds import SumMetric
from epochal.errors import ArgumentError, ArgumentTypeError, DataError

__all__ = ["BoundOutputs", "OutputsLoss", "check", "check_names", "output_names_of"]

#: spec -> (logits, logits -> probabilities for the metrics)
Form = Callable[[losses_mod.LossSpec], tuple[bool, Callable[[Tensor], Tensor] | None]]
LossArg = Any  # LossSpec | list[LossSpec | None] | dict[str, LossSpec | None]
MetricsArg = Any  # list[MetricRequest] | list[list[MetricRequest]] | dict[str, list[...]]


def _is_loss_like(value: Any) -> bool:
    return isinstance(value, str) or callable(value) or isinstance(value, losses_mod.LossSpec)


def _loss_entry(value: Any, where: str) -> losses_mod.LossSpec | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:  # Keras accepts a one-element list
        value = value[0]
    if not _is_loss_like(value):
        raise ArgumentTypeError(
            f"Expected each entry of `loss` to be a loss name, a callable or None. Received: "
            f"{where}={value!r} of type {type(value).__name__}"
        )
    return losses_mod.get(value)


def _check_loss(loss: Any) -> LossArg:
    if isinstance(loss, (list, tuple)):
        if not loss:
            raise ArgumentError("Expected `loss` to name at least one loss. Received: loss=[]")
        return [_loss_entry(v, f"loss[{i}]") for i, v in enumerate(loss)]
    if isinstance(loss, Mapping):
        if not loss:
            raise ArgumentError("Expected `loss` to name at least one loss. Received: loss={}")
        return {str(k): _loss_entry(v, f"loss[{k!r}]") for k, v in loss.items()}
    return losses_mod.get(loss)


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"Expected each loss weight to be a number. Received: {where}={value!r}"
        )
    return float(value)


def _check_weights(loss_weights: Any) -> Any:
    if loss_weights is None:
        return None
    if isinstance(loss_weights, (list, tuple)):
        return [_weight(v, f"loss_weights[{i}]") for i, v in enumerate(loss_weights)]
    if isinstance(loss_weights, Mapping):
        return {str(k): _weight(v, f"loss_weights[{k!r}]") for k, v in loss_weights.items()}
    return _weight(loss_weights, "loss_weights")


def _metric_list(value: Any, argument: str) -> list[metrics_mod.MetricRequest]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, (list, tuple, Mapping)):
            raise ArgumentTypeError(
                f"Expected `{argument}` entries for one output to be metrics. Received a nested "
                f"{type(item).__name__}: {item!r}"
            )
        if item is not None:
            out.append(metrics_mod.request(item))
    return out


def _check_metrics(metrics: Any, argument: str) -> MetricsArg:
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple, Mapping)):
        raise ArgumentTypeError(
            f"Expected `{argument}` to be a list (one list per output for several outputs) "
            f"or a dict by output name. Received: {argument}={metrics!r}"
        )
    if isinstance(metrics, Mapping):
        return {str(k): _metric_list(v, argument) for k, v in metrics.items()}
    if any(isinstance(m, (list, tuple)) for m in metrics):
        return [_metric_list(m, argument) for m in metrics]
    return [metrics_mod.request(m) for m in metrics]


def _is_flat(metrics: MetricsArg) -> bool:
    """A flat list of metrics (not one entry per output)."""
    return isinstance(metrics, list) and all(
        isinstance(m, metrics_mod.MetricRequest) for m in metrics
    )


@dataclass(frozen=True)
class OutputsLoss:
    """What ``compile`` was given for a model trained on several outputs (or with weights).

    Quacks like a `LossSpec` where the run's settings are described (``name``,
    ``kind``, ``from_logits``); `bind` resolves it against the outputs.
    """

    loss: LossArg
    loss_weights: Any
    metrics: MetricsArg
    weighted_metrics: MetricsArg
    kind: str = "custom"
    from_logits: None = None
    is_cross_entropy: bool = False
    fn: None = None

    @property
    def name(self) -> str:
        if isinstance(self.loss, losses_mod.LossSpec):
            return self.loss.name
        specs = self.loss.values() if isinstance(self.loss, dict) else self.loss
        return "+".join(s.name for s in specs if s is not None)

    def whole(self, declared: bool = False) -> bool:
        """Whether a structured output goes whole to one custom loss (no per-output split).

        Not for a module declaring ``output_names`` (``declared``: functional
        Keras models), where one loss applies to every output, as in Keras.
        """
        return (
            not declared
            and isinstance(self.loss, losses_mod.LossSpec)
            and self.loss.kind == "custom"
            and _is_flat(self.metrics)
            and _is_flat(self.weighted_metrics)
            and not isinstance(self.loss_weights, (list, dict))
        )

    def check_names(self, names: Sequence[str]) -> None:
        """Raise for specs that cannot fit outputs named ``names`` (compile-time check)."""
        _resolve(self, list(names))

    def bind(
        self,
        out: Any,
        names: Sequence[str] | None,
        device: torch.device,
        single_form: Form | None = None,
    ) -> BoundOutputs:
        """Resolve against a sample output ``out`` of the model: losses, forms and metrics.

        ``single_form(spec) -> (logits, logits -> probabilities)`` decides the
        loss form of a single output (the trainer's, which can split off a
        final activation layer); outputs of several are decided from the tensor.

        Raises:
            ArgumentError: the specs do not fit the outputs (names, lengths).
        """
        keys, labels = _structure(out, names, self)
        single_name = names[0] if keys == [None] and names and len(names) == 1 else None
        plans = _resolve(self, labels, single_name)
        bound = []
        for index, (key, label, plan) in enumerate(zip(keys, labels, plans, strict=True)):
            sub = _select(out, key)
            form = single_form if keys == [None] and single_form is not None else None
            bound.append(_bind_output(index, key, label, plan, sub, device, form))
        return BoundOutputs(bound, single=keys == [None])


@dataclass
class _Plan:
    spec: losses_mod.LossSpec | None
    weight: float
    metrics: list[metrics_mod.MetricRequest]
    weighted: list[metrics_mod.MetricRequest]


def check(
    loss: Any, metrics: Any, loss_weights: Any, weighted_metrics: Any
) -> tuple[losses_mod.LossSpec | OutputsLoss, list[metrics_mod.MetricRequest]]:
    """Validate compile's loss, metrics, loss_weights and weighted_metrics.

    Returns the plain (`LossSpec`, metric requests) of one output when nothing
    asks for more, else an `OutputsLoss` (and no flat requests).

    Raises:
        ArgumentError, ArgumentTypeError: unknown names, wrong forms.
    """
    checked_loss = _check_loss(loss)
    checked_metrics = _check_metrics(metrics, "metrics")
    weights = _check_weights(loss_weights)
    weighted = _check_metrics(weighted_metrics, "weighted_metrics")
    if weighted:
        for req in _all(weighted):
            _weighted_values(req)  # unsupported kinds fail at compile
    plain = (
        isinstance(checked_loss, losses_mod.LossSpec)
        and _is_flat(checked_metrics)
        and weights is None
        and not weighted
    )
    for group in (checked_metrics, weighted):
        for entry in group.values() if isinstance(group, dict) else [group]:
            if _is_flat(entry):
                _unique([r.name for r in entry])
            else:
                for sub in entry:
                    _unique([r.name for r in sub])
    if plain:
        assert isinstance(checked_loss, losses_mod.LossSpec)
        _unique([r.name for r in checked_metrics])
        return checked_loss, list(checked_metrics)
    return OutputsLoss(checked_loss, weights, checked_metrics, weighted), []


def check_names(
    spec: losses_mod.LossSpec | OutputsLoss,
    requests: list[metrics_mod.MetricRequest],
    names: Sequence[str] | None,
) -> None:
    """Raise at compile for specs that cannot fit a module's declared outputs ``names``."""
    if names is None:
        return
    if len(names) == 1:
        if isinstance(spec, OutputsLoss):
            _resolve(spec, [""], names[0])
        return
    if isinstance(spec, losses_mod.LossSpec):
        spec = OutputsLoss(spec, None, list(requests), [])
    spec.check_names(names)


def _all(metrics: MetricsArg) -> list[metrics_mod.MetricRequest]:
    if isinstance(metrics, dict):
        return [r for rs in metrics.values() for r in rs]
    if _is_flat(metrics):
        return list(metrics)
    return [r for rs in metrics for r in rs]


def _unique(names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ArgumentError(f"Metric names must be unique. Received duplicates: {duplicates}")


def output_names_of(module: Any) -> list[str] | None:
    """The module's declared output names (``output_names``), or None."""
    names = getattr(module, "output_names", None)
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        return list(names)
    return None


def _structure(
    out: Any, names: Sequence[str] | None, spec: OutputsLoss
) -> tuple[list[int | str | None], list[str]]:
    """(where each output is in ``out``, its name) for the outputs trained separately."""
    if isinstance(out, Tensor) or spec.whole(declared=names is not None):
        return [None], [""]
    if isinstance(out, dict):
        if not all(isinstance(v, Tensor) for v in out.values()):
            raise ArgumentError(_nested(out))
        return list(out), [str(k) for k in out]
    if isinstance(out, (list, tuple)) and out and all(isinstance(v, Tensor) for v in out):
        count = len(out)
        if names is not None and len(names) == count and len(set(names)) == count:
            return list(range(count)), list(names)
        return list(range(count)), [f"output_{i + 1}" for i in range(count)]
    raise ArgumentError(_nested(out))


def _nested(out: Any) -> str:
    return (
        "Per-output losses need the model to return a tensor, or a tuple/list or dict of "
        f"tensors. It returned a {type(out).__name__} holding other values: give one callable "
        "loss, which receives the whole output"
    )


def _by_output(value: Any, labels: list[str], argument: str, default: Any) -> list[Any]:
    """One entry per output from a list (by position) or a dict (by output name)."""
    count = len(labels)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in labels]
        if unknown:
            raise ArgumentError(
                f"In the dict argument `{argument}`, key {unknown[0]!r} does not correspond to "
                f"any model output. The outputs are {labels}. Received: {argument}={_show(value)}"
            )
        return [value.get(label, default) for label in labels]
    if isinstance(value, list):
        if len(value) != count:
            raise ArgumentError(
                f"For a model with {count} output(s), `{argument}` given as a list needs one "
                f"entry per output. Received {len(value)} entries: {argument}={_show(value)}. "
                f"The outputs are {labels}"
            )
        return list(value)
    return [value] * count


def _resolve(spec: OutputsLoss, labels: list[str], single_name: str | None = None) -> list[_Plan]:
    """One plan per output; raises `ArgumentError` for specs that do not fit.

    ``labels == [""]``: one output (named ``single_name`` when the module says so).
    """
    count = len(labels)
    single = labels == [""]
    named = [] if single else labels
    if single:
        losses = _single(spec.loss, "loss", single_name, None)
        weights = [spec.loss_weights if isinstance(spec.loss_weights, float) else None]
        if isinstance(spec.loss_weights, (list, dict)):
            weights = _single(spec.loss_weights, "loss_weights", single_name, None)
        metrics = [_single_metrics(spec.metrics, "metrics", single_name)]
        weighted = [_single_metrics(spec.weighted_metrics, "weighted_metrics", single_name)]
    else:
        losses = _by_output(spec.loss, named, "loss", None)
        weights = _by_output(spec.loss_weights, named, "loss_weights", None)
        metrics = _per_output_metrics(spec.metrics, named, "metrics")
        weighted = _per_output_metrics(spec.weighted_metrics, named, "weighted_metrics")
    if all(s is None for s in losses):
        raise ArgumentError(
            f"Expected a loss for at least one output. Received: loss={_show(spec.loss)}"
        )
    plans = [
        _Plan(s, 1.0 if w is None else float(w), m, wm)
        for s, w, m, wm in zip(losses, weights, metrics, weighted, strict=True)
    ]
    names: list[str] = []
    for label, plan in zip(labels, plans, strict=True):
        prefix = f"{label}_" if label else ""
        if plan.spec is not None and count > 1:
            names.append(f"{prefix}loss")
        plain = [f"{prefix}{r.name}" for r in plan.metrics]
        names += plain
        given = {r.name for r in plan.metrics}
        names += [
            f"{prefix}{'weighted_' if r.name in given else ''}{r.name}" for r in plan.weighted
        ]
    _unique(names)
    return plans


def _single(value: Any, argument: str, name: str | None, default: Any) -> list[Any]:
    if isinstance(value, list):
        if len(value) != 1:
            raise ArgumentError(
                f"The model has one output, but `{argument}` is a list of {len(value)} entries: "
                f"{argument}={_show(value)}"
            )
        return list(value)
    if isinstance(value, dict):
        if name is not None and set(value) <= {name}:
            return [value.get(name, default)]
        named = f"named {name!r}" if name is not None else "(unnamed)"
        raise ArgumentError(
            f"In the dict argument `{argument}`, key {next(iter(value))!r} does not correspond "
            f"to any model output. The model has one output {named}. Received: "
            f"{argument}={_show(value)}"
        )
    return [value]


def _single_metrics(
    value: MetricsArg, argument: str, name: str | None
) -> list[metrics_mod.MetricRequest]:
    if _is_flat(value):
        return list(value)
    (entry,) = _single(value, argument, name, [])
    return list(entry)


def _show(value: Any) -> str:
    """``value`` as the user wrote it, losses and metrics by name."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, (losses_mod.LossSpec, metrics_mod.MetricRequest)):
        return repr(value.name)
    return repr(value)


def _per_output_metrics(
    value: MetricsArg, labels: list[str], argument: str
) -> list[list[metrics_mod.MetricRequest]]:
    if not value:
        return [[] for _ in labels]
    if _is_flat(value):
        if len(value) != len(labels):
            raise ArgumentError(
                f"For a model with {len(labels)} outputs, `{argument}` given as a list needs one "
                f"entry per output (a metric or a list of metrics), as in Keras. Received "
                f"{len(value)} entries: {[r.name for r in value]}. Give a list of lists, or a "
                f"dict by output name: the outputs are {labels}"
            )
        return [[r] for r in value]
    entries = _by_output(value, labels, argument, [])
    return [list(e) for e in entries]


# -- binding ---------------------------------------------------------------------------
def _select(tree: Any, key: int | str | None) -> Any:
    return tree if key is None else tree[key]


class _LossMean(SumMetric):
    """An output's (weighted) loss averaged over samples, for the ``<output>_loss`` log."""

    higher_is_better = False

    def __init__(self, loss_fn: losses_mod.LossFn, weight: float) -> None:
        super().__init__()
        self.loss_fn = loss_fn
        self.weight = weight

    def update(self, preds: Tensor, target: Tensor) -> None:  # unused: see update_weighted
        raise NotImplementedError

    def update_weighted(self, preds: Tensor, target: Tensor, sw: Tensor | None) -> None:
        value = self.loss_fn(preds, target, sw).detach() * self.weight
        n = preds.shape[0]
        self.total += value * n
        self.count += n


def _weighted_values(req: metrics_mod.MetricRequest) -> Callable[[Tensor, Tensor], Tensor]:
    """Per-sample values of a metric Keras can weight (``weighted_metrics``)."""

    def accuracy(p: Tensor, y: Tensor) -> Tensor:
        if p.ndim > 1 and p.shape[-1] > 1:
            if y.shape == p.shape:
                y = y.argmax(dim=-1)
            return (p.argmax(dim=-1) == y.reshape(p.shape[:-1])).float()
        threshold = 0.5
        return ((p > threshold) == (y.reshape(p.shape) > 0.5)).float()

    def diff(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        return lambda p, y: fn(p, y.reshape(p.shape).to(p.dtype))

    table: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
        "accuracy": accuracy,
        "binary_accuracy": accuracy,
        "categorical_accuracy": accuracy,
        "sparse_categorical_accuracy": accuracy,
        "mean_squared_error": diff(lambda p, y: (p - y).square()),
        "mean_absolute_error": diff(lambda p, y: (p - y).abs()),
        "mean_absolute_percentage_error": diff(
            lambda p, y: 100.0 * (p - y).abs() / y.abs().clamp_min(1e-7)
        ),
    }
    if req.key is not None and req.key in table and not req.options:
        return table[req.key]
    if req.fn is not None:
        fn = req.fn
        return lambda p, y: torch.as_tensor(fn(p, y))
    raise ArgumentError(
        f"weighted_metrics: {req.name!r} cannot be weighted per sample. Weighted metrics are "
        f"{', '.join(sorted(table))} and callables returning one value per sample"
    )


class _WeightedMean(SumMetric):
    """A metric's per-sample values averaged with the sample weights (Keras's weighted metric)."""

    def __init__(self, values: Callable[[Tensor, Tensor], Tensor], higher_is_better: bool) -> None:
        super().__init__()
        self.values = values
        self.higher_is_better = higher_is_better
        self.weight = torch.zeros((), dtype=torch.float64)

    def to(self, device: torch.device) -> _WeightedMean:
        super().to(device)
        self.weight = self.weight.to(device=device, dtype=self.total.dtype)
        return self

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.update_weighted(preds, target, None)

    def update_weighted(self, preds: Tensor, target: Tensor, sw: Tensor | None) -> None:
        values = self.values(preds, target)
        per_sample = values.reshape(values.shape[0], -1).mean(dim=1) if values.ndim else values
        if sw is None:
            self.total += per_sample.detach().sum()
            self.weight += per_sample.shape[0] if per_sample.ndim else 1
        else:
            self.total += (per_sample.detach() * sw).sum()
            self.weight += sw.sum()
        self.count += int(preds.shape[0])

    def reset(self) -> None:
        super().reset()
        self.weight = torch.zeros((), dtype=self.total.dtype, device=self.total.device)

    def compute(self) -> Tensor:
        return (self.total / self.weight.clamp_min(1e-12)).float()

    def clone(self) -> _WeightedMean:
        new = super().clone()
        assert isinstance(new, _WeightedMean)
        new.weight = self.weight.clone()
        return new

    def state(self) -> dict[str, Any]:
        return {**super().state(), "weight": self.weight.clone()}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.weight = state["weight"].to(self.total.device)


class OutputMetric(metrics_mod.CompiledMetric):
    """A compiled metric reading one output (and its targets), logged with the output's prefix."""

    def __init__(
        self,
        inner: metrics_mod.CompiledMetric,
        name: str,
        position: int,
        key: int | str | None,
        activation: Callable[[Tensor], Tensor] | None,
        sample_weighted: bool,
    ) -> None:
        super().__init__(name, inner.direction, inner.metric, inner.task)
        self.inner = inner
        self.position = position
        self.key = key
        self.activation = activation
        self.sample_weighted = sample_weighted
        self.role = "metric"  # or "weighted", or "loss" (an output's loss, for the logs)

    def update_from(self, out: Any, y: Any, sw: Tensor | None, single: bool) -> None:
        preds = _select(out, self.key)
        target = y if single else y[self.position]
        if self.activation is not None and not self.inner.takes_logits:
            preds = self.activation(preds)
        if self.sample_weighted:
            metric = self.metric
            assert isinstance(metric, (_WeightedMean, _LossMean))
            metric.update_weighted(preds, target, sw)
        else:
            self.inner.update(preds, target)

    def clone(self) -> OutputMetric:
        new = OutputMetric(
            self.inner.clone(),
            self.name,
            self.position,
            self.key,
            self.activation,
            self.sample_weighted,
        )
        new.role = self.role
        return new


@dataclass
class _BoundOutput:
    key: int | str | None
    label: str
    spec: losses_mod.LossSpec | None
    weight: float
    loss_fn: losses_mod.LossFn | None
    metrics: list[OutputMetric]
    wanted: bool  # targets needed (a loss or metrics)


def _bind_output(
    position: int,
    key: int | str | None,
    label: str,
    plan: _Plan,
    out: Tensor,
    device: torch.device,
    form: Form | None,
) -> _BoundOutput:
    spec = plan.spec
    logits, activation = (False, None)
    loss_fn = None
    metrics: list[OutputMetric] = []
    prefix = f"{label}_" if label else ""
    if spec is not None:
        logits, activation = form(spec) if form is not None else tensor_form(out, spec)
        loss_fn = losses_mod.build_loss(spec, logits=logits)
        if label:
            mean = _LossMean(loss_fn, plan.weight).to(device)
            inner = metrics_mod.CompiledMetric(f"{prefix}loss", "min", mean, "regression")
            metrics.append(OutputMetric(inner, inner.name, position, key, None, True))
            metrics[-1].role = "loss"
    plain_names = set()
    for req in plan.metrics:
        inner = metrics_mod.build(req, out, device)
        if logits:
            inner.accept_logits()
        plain_names.add(req.name)
        metrics.append(OutputMetric(inner, prefix + req.name, position, key, activation, False))
    for req in plan.weighted:
        hib = req.direction == "max"
        mean = _WeightedMean(_weighted_values(req), hib).to(device)
        name = prefix + ("weighted_" if req.name in plain_names else "") + req.name
        inner = metrics_mod.CompiledMetric(name, req.direction, mean, "regression")
        metrics.append(OutputMetric(inner, name, position, key, activation, True))
        metrics[-1].role = "weighted"
    wanted = spec is not None or bool(plan.metrics) or bool(plan.weighted)
    return _BoundOutput(key, label, spec, plan.weight, loss_fn, metrics, wanted)


class BoundOutputs:
    """The outputs' losses and metrics, bound to the model's outputs (see the module docstring)."""

    def __init__(self, outputs: list[_BoundOutput], single: bool) -> None:
        self.outputs = outputs
        self.single = single
        self.labels = [o.label for o in outputs]

    # What the trainer reads as a loss spec.
    kind = "custom"
    name = "multi_output"
    from_logits = None

    def metrics(self) -> list[OutputMetric]:
        """In the order of Keras 3's logs: the metrics output by output, the weighted metrics,
        then the per-output losses (Keras's ``Trainer.metrics``)."""
        every = [m for o in self.outputs for m in o.metrics]
        order = {"metric": 0, "weighted": 1, "loss": 2}
        return sorted(every, key=lambda m: order[m.role])  # stable: output order kept

    def loss(self, out: Any, y: Any, sample_weight: Tensor | None) -> Tensor:
        """The weighted sum of the outputs' losses."""
        total: Tensor | None = None
        for position, o in enumerate(self.outputs):
            if o.loss_fn is None:
                continue
            target = y if self.single else y[position]
            value = o.loss_fn(_select(out, o.key), target, sample_weight)
            if o.weight != 1.0:
                value = value * o.weight
            total = value if total is None else total + value
        assert total is not None
        return total

    def update_metrics(
        self, metrics: Sequence[metrics_mod.CompiledMetric], out: Any, y: Any, sw: Tensor | None
    ) -> None:
        for metric in metrics:
            assert isinstance(metric, OutputMetric)
            metric.update_from(out, y, sw, self.single)

    def conform_targets(
        self, y: Any, y_pred: Any, *, where: str = "y", check_values: bool = True
    ) -> Any:
        """Targets in the outputs' order (a tuple), each conformed to its loss; or raise `DataError`."""
        if self.single:
            o = self.outputs[0]
            assert o.spec is not None
            return losses_mod.prepare_targets(
                o.spec, y, y_pred, where=where, check_values=check_values
            )
        given = self._targets_by_output(y, where)
        conformed: list[Any] = []
        for o, target in zip(self.outputs, given, strict=True):
            sub = f"{where}[{o.label!r}]"
            if target is None:
                if o.wanted:
                    raise DataError(
                        f"Expected targets for output {o.label!r} in `{where}` (it has a loss or "
                        f"metrics). The outputs are {self.labels}"
                    )
                conformed.append(None)
                continue
            if not isinstance(target, Tensor):
                raise DataError(
                    f"Expected `{sub}` to be one array. Received a {type(target).__name__}"
                )
            pred = _select(y_pred, o.key)
            if o.spec is not None:
                target = losses_mod.prepare_targets(
                    o.spec, target, pred, where=sub, check_values=check_values
                )
            conformed.append(target)
        return tuple(conformed)

    def _targets_by_output(self, y: Any, where: str) -> list[Any]:
        count = len(self.outputs)
        if isinstance(y, Mapping):
            unknown = [k for k in y if k not in self.labels]
            if unknown:
                raise DataError(
                    f"`{where}` is a dict with key {unknown[0]!r}, which names no model output. "
                    f"The outputs are {self.labels}"
                )
            return [y.get(label) for label in self.labels]
        if isinstance(y, (list, tuple)):
            if len(y) != count:
                raise DataError(
                    f"Expected `{where}` to hold one target array per output ({count}: "
                    f"{self.labels}). Received {len(y)}"
                )
            return list(y)
        raise DataError(
            f"The model has {count} outputs ({self.labels}): expected `{where}` as a list of "
            f"{count} arrays or a dict by output name. Received a single "
            f"{type(y).__name__}"
        )
