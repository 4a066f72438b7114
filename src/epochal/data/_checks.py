"""Checks of data before the optimizer steps on it: every batch's targets, weights, steps.

In-memory data is checked once, whole, before training. Batches of a
Dataset, DataLoader or iterable are checked one by one as they are drawn,
against the loss (dtype, shape, value range) and for their sample weights,
on the host before they move to the device when they come from there (no
device sync). The cost is one pass over each batch's targets and weights
(``bench/batch_checks.py`` measures it); features are not read.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from epochal import losses as losses_mod
from epochal._modes import evaluating
from epochal._tree import call_module, leaves, tree_map
from epochal.data._features import FeatureCast, check_features, input_errors, unbuilt_on_failure
from epochal.data._sources import ArraySource, Batch, IterableSource, Source
from epochal.errors import ArgumentError, ArgumentTypeError, DataError

__all__ = [
    "BatchCheck",
    "check_predict_input",
    "check_class_weight",
    "check_weights",
    "install_batch_checks",
    "prepare_inputs",
    "target_name",
    "warn_if_short",
]


def check_weights(weights: Tensor, name: str) -> None:
    """Refuse NaN, infinite or negative sample weights (one pass, one read)."""
    if weights.numel() == 0:
        return
    if not weights.is_floating_point():
        weights = weights.float()
    low, high = (float(v) for v in torch.aminmax(weights))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DataError(
            f"Expected `{name}` to hold finite weights. Received "
            f"{int(torch.isnan(weights).sum())} NaN and {int(torch.isinf(weights).sum())} "
            "infinite values"
        )
    if low < 0.0:
        raise DataError(f"Expected `{name}` to hold weights >= 0. Received a minimum of {low:g}")


def check_class_weight(class_weight: Any) -> None:
    """``class_weight``: a mapping of class indices to finite weights >= 0."""
    if class_weight is None:
        return
    if not isinstance(class_weight, Mapping):
        raise ArgumentTypeError(
            "Expected `class_weight` to be a dict mapping class index to weight. "
            f"Received: class_weight of type {type(class_weight).__name__}"
        )
    for key, value in class_weight.items():
        if not _is_index(key):
            raise ArgumentError(
                f"Expected `class_weight` keys to be class indices (ints). Received key {key!r}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy and torch scalars
            except (TypeError, ValueError):
                raise ArgumentError(
                    f"Expected `class_weight` values to be numbers. Received "
                    f"class_weight[{key!r}]={value!r}"
                ) from None
        if not math.isfinite(value) or value < 0:
            raise ArgumentError(
                "Expected `class_weight` values to be finite numbers >= 0. Received "
                f"class_weight[{key!r}]={value!r}"
            )


def _is_index(key: Any) -> bool:
    """An int-valued class index (Python or numpy ints, integral floats); not a bool or str."""
    if isinstance(key, (bool, str, bytes)):
        return False
    try:
        return bool(int(key) == key)
    except (TypeError, ValueError, OverflowError):
        return False


class BatchCheck:
    """Checks one batch of an iterable and conforms its targets to the loss."""

    def __init__(
        self, spec: losses_mod.LossSpec | losses_mod.ConformsTargets, output: Any, name: str
    ) -> None:
        self.spec = spec
        # Only the outputs' shape and dtype are read: keep an empty stand-in.
        self.output = (
            torch.empty((0, *output.shape[1:]), dtype=output.dtype)
            if isinstance(output, Tensor)
            else output
        )
        self.name = name

    def __call__(self, batch: Batch, index: int) -> Batch:
        """The batch with targets conformed, or a `DataError` naming the batch."""
        where = f"{self.name} batch {index}"
        if batch.y is None:
            raise DataError(
                f"Expected every batch of `{self.name}` to be (x, y[, sample_weight]). "
                f"Batch {index} has no targets"
            )
        lengths = {int(t.shape[0]) for t in leaves(batch.y) if isinstance(t, Tensor) and t.ndim}
        if lengths - {batch.size}:
            raise DataError(
                f"Expected `{where}` x and y to have the same number of samples. Received x with "
                f"{batch.size} samples, y with {sorted(lengths)}"
            )
        y = losses_mod.prepare_targets(self.spec, batch.y, self.output, where=f"{where} y")
        sw = batch.sample_weight
        if sw is not None:
            if not isinstance(sw, Tensor):
                raise DataError(
                    f"Expected `{where} sample_weight` to be a 1-D array. Received a "
                    f"{type(sw).__name__}"
                )
            if sw.ndim == 2 and sw.shape[1] == 1:
                sw = sw[:, 0]
            if sw.ndim != 1 or sw.shape[0] != batch.size:
                raise DataError(
                    f"Expected `{where} sample_weight` to have shape ({batch.size},), one weight "
                    f"per sample. Received shape {tuple(sw.shape)}"
                )
            check_weights(sw, f"{where} sample_weight")
            if not sw.is_floating_point():
                sw = sw.float()
        return batch._replace(y=y, sample_weight=sw)


def prepare_inputs(module: nn.Module, sources: Sequence[tuple[Source, str]]) -> None:
    """Check features and weights, and cast features to the model's dtype, for each source.

    In-memory sources are checked and cast whole, now; iterable sources cast
    each batch as it is drawn. ``sources`` pairs each source with its
    argument's name. Everything is checked before any source changes.
    """
    for source, name in sources:
        if isinstance(source, ArraySource):
            check_features(source.x, name)
            if source.sample_weight is not None:
                check_weights(source.sample_weight, _weight_name(name))
    cast = FeatureCast(module)
    for source, name in sources:
        source.name = name
        if isinstance(source, ArraySource):
            source.x = cast(source.x)
        else:
            source.features = cast


def check_predict_input(module: nn.Module, source: Source, seen: tuple[int, ...] | None) -> None:
    """Run two samples through ``module`` so a shape that does not fit fails before any batch.

    ``seen`` is the training features' shape, named as the expected one. A
    lazy model that the failed probe built is put back unbuilt.
    """
    sample = source.head(2)
    if sample is None:
        return
    x2 = tree_map(lambda t: t[:2], sample.x)
    with (
        evaluating(module),
        unbuilt_on_failure(module),
        input_errors("x", x2, module, seen),
        torch.no_grad(),
    ):
        call_module(module, x2)


def _weight_name(name: str) -> str:
    return "sample_weight" if name.startswith("x") else f"{name} sample_weight"


def target_name(name: str) -> str:
    """The name of the targets that go with the features named ``name``."""
    return "y" + name[1:] if name.startswith("x") else f"{name} y"


def install_batch_checks(
    source: Source, spec: losses_mod.LossSpec | losses_mod.ConformsTargets, output: Any, name: str
) -> None:
    """Check (and conform) every batch of an iterable source; in-memory sources need none."""
    if isinstance(source, IterableSource):
        source.check = BatchCheck(spec, output, name)


def warn_if_short(
    source: Source, steps: int | None, batch_size: int, name: str, argument: str
) -> None:
    """Warn once when ``argument`` (``steps``) asks for more batches than finite data holds.

    As Keras does ("Your input ran out of data"). In-memory data and
    Datasets then run the batches there are; a re-iterable source with
    ``steps_per_epoch`` is read again from its start.
    """
    if steps is None:
        return
    available = source.steps(batch_size)
    if available is None or steps <= available:
        return  # unknown length: a one-shot iterator warns when it runs out
    persistent = (
        isinstance(source, IterableSource)
        and not source.is_map_dataset
        and argument == "steps_per_epoch"
    )
    if persistent and not getattr(source, "restartable", True):
        return  # warned when it runs out (epochal.data._sources)
    if persistent:
        consequence = "it is read again from its start to fill each epoch"
    else:
        consequence = f"only {available} steps run"
    warnings.warn(
        f"Your input ran out of data: `{name}` holds {available} batches, fewer than "
        f"{argument}={steps} (batch_size={batch_size}); {consequence}. Make sure the data "
        f"can provide {argument} batches, or lower {argument}",
        RuntimeWarning,
        stacklevel=3,
    )
