"""Checks of ``fit``/``evaluate``/``predict`` arguments, with Keras-style messages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from epochal.callbacks.base import Callback
from epochal.data._checks import check_class_weight
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "FitArguments",
    "check_callbacks",
    "check_fit_arguments",
    "check_positive_int",
    "check_validation_freq",
    "check_verbose",
]


def check_positive_int(name: str, value: Any, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArgumentError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ArgumentError(
            f"Expected `verbose` to be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}"
        )
    return int(verbose)


def check_callbacks(callbacks: Any) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise ArgumentTypeError(
            f"Expected `callbacks` to be a list of Callback instances. Received: {type(callbacks).__name__}"
        )
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ArgumentTypeError(
                "Expected every entry of `callbacks` to be an epochal Callback instance. "
                f"Received: {cb!r} of type {type(cb).__name__}"
            )
    return list(callbacks)


def check_validation_freq(freq: Any) -> int | list[int]:
    if isinstance(freq, int) and not isinstance(freq, bool) and freq > 0:
        return freq
    if isinstance(freq, (list, tuple)) and all(
        isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in freq
    ):
        return list(freq)
    raise ArgumentError(
        "Expected `validation_freq` to be a positive int or a list of positive ints (1-based "
        f"epochs). Received: validation_freq={freq!r}"
    )


@dataclass(frozen=True)
class FitArguments:
    """The checked arguments of ``fit`` that the loop needs in normalized form."""

    verbose: int
    callbacks: list[Callback]
    validation_freq: int | list[int]


def check_fit_arguments(
    *,
    batch_size: Any,
    epochs: Any,
    verbose: Any,
    callbacks: Any,
    validation_split: Any,
    shuffle: Any,
    class_weight: Any,
    sample_weight: Any,
    initial_epoch: Any,
    steps_per_epoch: Any,
    validation_steps: Any,
    validation_batch_size: Any,
    validation_freq: Any,
    checkpoint_dir: Any,
    checkpoint_steps: Any,
    keep_checkpoints: Any,
) -> FitArguments:
    """Check every scalar argument of ``fit`` before anything is built (Keras-style messages)."""
    check_positive_int("batch_size", batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ArgumentError(f"Expected `epochs` to be an int >= 0. Received: epochs={epochs!r}")
    verbose_level = check_verbose(verbose)
    user_callbacks = check_callbacks(callbacks)
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not (0.0 <= validation_split < 1.0)
    ):
        raise ArgumentError(
            "Expected `validation_split` to be a float in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    if not isinstance(shuffle, bool):
        raise ArgumentTypeError(f"Expected `shuffle` to be a bool. Received: shuffle={shuffle!r}")
    check_class_weight(class_weight)
    if class_weight is not None and sample_weight is not None:
        raise ArgumentError(
            "`class_weight` and `sample_weight` cannot be used together. Received both; "
            "fold the class weights into sample_weight instead"
        )
    if initial_epoch is not None:
        if (
            isinstance(initial_epoch, bool)
            or not isinstance(initial_epoch, int)
            or initial_epoch < 0
        ):
            raise ArgumentError(
                f"Expected `initial_epoch` to be an int >= 0. Received: initial_epoch={initial_epoch!r}"
            )
        if epochs < initial_epoch:
            raise ArgumentError(
                "With `initial_epoch`, `epochs` is the index of the final epoch (Keras), so it "
                f"must be >= initial_epoch. Received: epochs={epochs}, initial_epoch={initial_epoch}"
            )
    check_positive_int("steps_per_epoch", steps_per_epoch)
    check_positive_int("validation_steps", validation_steps)
    check_positive_int("validation_batch_size", validation_batch_size)
    freq = check_validation_freq(validation_freq)
    check_positive_int("checkpoint_steps", checkpoint_steps)
    check_positive_int("keep_checkpoints", keep_checkpoints)
    if checkpoint_steps is not None and checkpoint_dir is None:
        raise ArgumentError(
            "`checkpoint_steps` needs `checkpoint_dir`. Received: checkpoint_steps="
            f"{checkpoint_steps}, checkpoint_dir=None"
        )
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"Expected `checkpoint_dir` to be a path. Received: {type(checkpoint_dir).__name__}"
        )
    return FitArguments(verbose_level, user_callbacks, freq)


def check_keras_compile_options(
    *, compile: Any, jit_compile: Any, run_eagerly: Any, steps_per_execution: Any
) -> bool:
    """Keras's ``compile`` options, checked; returns whether to compile the step.

    ``jit_compile=True`` asks for compilation (epochal's ``compile=True``);
    ``run_eagerly=True`` forbids it; ``steps_per_execution`` is accepted.
    """
    if not isinstance(compile, bool):
        raise ArgumentTypeError(f"Expected `compile` to be a bool. Received: compile={compile!r}")
    if jit_compile not in (True, False, "auto"):
        raise ArgumentError(
            f"Expected `jit_compile` to be True, False or 'auto'. Received: jit_compile={jit_compile!r}"
        )
    if not isinstance(run_eagerly, bool):
        raise ArgumentTypeError(
            f"Expected `run_eagerly` to be a bool. Received: run_eagerly={run_eagerly!r}"
        )
    check_positive_int("steps_per_execution", steps_per_execution, allow_none=False)
    wants = compile or jit_compile is True
    if run_eagerly and wants:
        raise ArgumentError(
            "run_eagerly=True asks for no compilation, but compile=True or jit_compile=True "
            "asks for it: pass one of them"
        )
    return bool(wants)
