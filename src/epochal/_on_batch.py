"""``train_on_batch``, ``test_on_batch`` and ``predict_on_batch``: one batch, given whole.

The model's face checks the batch and builds its source here; the step is
the run owner's (`epochal._trainer.Trainer.train_on_batch`, the engine's one
training step), so a ``train_on_batch`` step is a step of the run: counted in
``run.step``, drawing from the run's random state, saved and resumed with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from epochal.data import ArraySource, make_source
from epochal.data._adapters import apply_class_weight
from epochal.data._checks import prepare_inputs
from epochal.errors import ArgumentError

if TYPE_CHECKING:
    from epochal.model import Model

__all__ = ["batch_source", "predict_on_batch", "test_on_batch", "train_on_batch"]


def batch_source(
    model: Model,
    what: str,
    x: Any,
    y: Any,
    sample_weight: Any,
    class_weight: Mapping[Any, float] | None = None,
) -> ArraySource:
    """The in-memory batch ``x``/``y`` as one source, checked before any work.

    Raises:
        ArgumentError: ``x`` is not in-memory arrays (a batch), or both weights given.
        DataError: the arrays do not fit together (as ``fit`` reports it).
    """
    if class_weight is not None and sample_weight is not None:
        raise ArgumentError(
            f"{what}: give `sample_weight` or `class_weight`, not both (as Keras). "
            f"Received: sample_weight and class_weight={class_weight!r}"
        )
    source = make_source(
        x,
        y,
        sample_weight,
        device=model.device,
        batch_size=1,
        check_finite_values=not model._keras_face,
    )
    if not isinstance(source, ArraySource):
        raise ArgumentError(
            f"{what}: expected `x` to be one batch of arrays or tensors (and `y` its targets). "
            f"Received: x of type {type(x).__name__}; use fit/evaluate for datasets and loaders"
        )
    if class_weight is not None:
        apply_class_weight(source, class_weight)
    prepare_inputs(model.module, [(source, "x")])
    return source


def train_on_batch(
    model: Model,
    x: Any,
    y: Any,
    sample_weight: Any,
    class_weight: Mapping[Any, float] | None,
) -> dict[str, float]:
    """One training step of the run on the batch; its loss and metrics."""
    trainer = model._require_compiled("train_on_batch")
    source = batch_source(model, "train_on_batch", x, y, sample_weight, class_weight)
    engine, conform = trainer.prepare([source], "train_on_batch")
    return trainer.train_on_batch(source, engine, conform)


def test_on_batch(model: Model, x: Any, y: Any, sample_weight: Any) -> dict[str, float]:
    """The loss and metrics of the batch, in eval mode; trains nothing."""
    trainer = model._require_compiled("test_on_batch")
    source = batch_source(model, "test_on_batch", x, y, sample_weight)
    engine, conform = trainer.prepare([source], "test_on_batch")
    return trainer.test_on_batch(source, engine, conform)


def predict_on_batch(model: Model, x: Any) -> Any:
    """The outputs for ``x`` as one batch, in eval mode (numpy in, numpy out)."""
    source = make_source(x, None, None, device=model.device, batch_size=1, require_y=False)
    if not isinstance(source, ArraySource):
        raise ArgumentError(
            "predict_on_batch: expected `x` to be one batch of arrays or tensors. "
            f"Received: x of type {type(x).__name__}; use predict for datasets and loaders"
        )
    return model.predict(x, batch_size=max(source.n, 1), verbose=0)
