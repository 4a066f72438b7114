"""Every Keras 3 public name epochal.keras lacks raises an error naming it and what to do instead."""

from __future__ import annotations

import importlib

import pytest

from epochal.keras._missing import KERAS_NAMES
from epochal.keras._unavailable import NotAvailableError

CASES = [
    (module, name) for module, (names, _) in sorted(KERAS_NAMES.items()) for name in sorted(names)
]


def _module(keras_name: str):
    return importlib.import_module("epochal." + keras_name)


@pytest.mark.parametrize(("module", "name"), CASES)
def test_a_keras_name_is_there_or_says_what_to_do_instead(module, name):
    namespace = _module(module)
    if name in vars(namespace):
        return  # epochal has it
    with pytest.raises(
        NotAvailableError, match=rf"^{module}\.{name} is not available in epochal\.keras: \w"
    ):
        getattr(namespace, name)
    assert not hasattr(namespace, name)


@pytest.mark.parametrize("module", sorted(KERAS_NAMES))
def test_other_missing_names_are_plain_attribute_errors(module):
    namespace = _module(module)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'") as info:
        namespace.NoSuchThing  # noqa: B018
    assert not isinstance(info.value, NotAvailableError)
    with pytest.raises(AttributeError):
        namespace.__wrapped__  # noqa: B018


def test_specific_advice_for_names_programs_reach_for():
    from epochal import keras

    with pytest.raises(NotAvailableError, match=r"torchvision\.datasets"):
        keras.datasets  # noqa: B018
    with pytest.raises(NotAvailableError, match=r"model\.summary\(\)"):
        keras.utils.plot_model  # noqa: B018
    with pytest.raises(NotAvailableError, match=r"torch\.optim"):
        keras.optimizers.Lion  # noqa: B018
