"""`keras.config`: the settings Keras programs read and set."""

from __future__ import annotations

import pytest
import torch

from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError


def test_backend_layout_and_epsilon():
    assert keras.config.backend() == "torch"
    assert keras.config.image_data_format() == "channels_last"
    keras.config.set_image_data_format("channels_last")
    with pytest.raises(ArgumentError, match="channels-last"):
        keras.config.set_image_data_format("channels_first")
    assert keras.config.epsilon() == 1e-7
    keras.config.set_epsilon(1e-5)
    try:
        assert keras.config.epsilon() == 1e-5
    finally:
        keras.config.set_epsilon(1e-7)
    with pytest.raises(ArgumentError):
        keras.config.set_epsilon(0)


def test_floatx_is_torchs_default_dtype():
    assert keras.config.floatx() == "float32"
    keras.config.set_floatx("float64")
    try:
        assert torch.get_default_dtype() == torch.float64
        assert keras.config.floatx() == "float64"
    finally:
        keras.config.set_floatx("float32")
    with pytest.raises(ArgumentError, match="float32"):
        keras.config.set_floatx("double")


def test_max_epochs_and_steps_settings():
    assert keras.config.max_epochs() is None
    keras.config.set_max_epochs(2)
    keras.config.set_max_steps_per_epoch(3)
    try:
        assert keras.config.max_epochs() == 2
        assert keras.config.max_steps_per_epoch() == 3
    finally:
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
    assert keras.config.max_epochs() is None
    with pytest.raises(ArgumentError):
        keras.config.set_max_epochs(0)
    with pytest.raises(ArgumentTypeError):
        keras.config.set_max_steps_per_epoch(2.5)


def test_max_epochs_and_steps_cap_fit():
    import numpy as np
    from torch import nn

    import epochal as ep

    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = x[:, :1]
    model = ep.Model(nn.Linear(2, 1))
    model.compile(optimizer="sgd", loss="mse", seed=0)
    keras.config.set_max_epochs(2)
    keras.config.set_max_steps_per_epoch(3)
    try:
        history = model.fit(x, y, batch_size=8, epochs=10, verbose=0)
        assert len(history.history["loss"]) == 2
        assert model.run.step == 6
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # 2 steps: under the cap
        assert model.run.step == 8
    finally:
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
