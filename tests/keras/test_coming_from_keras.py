"""docs/coming_from_keras.md stays true: every layer it lists exists, every missing one says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from epochal.keras import constraints, layers, regularizers
from epochal.keras._unavailable import NotAvailableError

DOC = (Path(__file__).parents[2] / "docs" / "coming_from_keras.md").read_text()


def _section(start: str, end: str) -> str:
    head = DOC.index(start)
    return DOC[head : DOC.index(end, head + len(start))]


def _names(text: str) -> set[str]:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))


LISTED = _names(_section("\n## Layers\n", "How they behave"))
MISSING = _names(
    _section("- These Keras layers.", "- `keras.regularizers.OrthogonalRegularizer`")
) - {
    "fit",
    "Dataset",
    "Lambda",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "get_config",
    "from_config",
}


def test_every_layer_the_doc_lists_exists_and_every_layer_is_listed():
    assert set(layers.__all__) >= LISTED
    ours = {n for n in layers.__all__ if getattr(layers, n).__module__.startswith("epochal.layers")}
    assert ours <= LISTED


@pytest.mark.parametrize("name", sorted(MISSING))
def test_every_missing_layer_raises_an_error_naming_it_and_what_to_do(name):
    with pytest.raises(
        NotAvailableError, match=rf"keras\.layers\.{name} is not available in epochal\.keras: \w+"
    ):
        getattr(layers, name)
    assert not hasattr(layers, name)  # an AttributeError underneath: hasattr stays honest


def test_the_doc_lists_every_missing_layer():
    assert set(layers.NOT_AVAILABLE) == MISSING


def test_unknown_names_are_plain_attribute_errors_and_other_modules_explain_theirs():
    with pytest.raises(AttributeError, match="no attribute 'Dence'") as info:
        layers.Dence  # noqa: B018
    assert not isinstance(info.value, NotAvailableError)
    with pytest.raises(NotAvailableError, match=r"keras\.regularizers\.OrthogonalRegularizer"):
        regularizers.OrthogonalRegularizer  # noqa: B018
    with pytest.raises(NotAvailableError, match=r"keras\.constraints\.serialize"):
        constraints.serialize  # noqa: B018
    with pytest.raises(NotAvailableError) as error:
        layers.ConvLSTM2D  # noqa: B018
    assert "ConvLSTM2D is not available in epochal.keras: wrap a torch.nn.Module" in str(
        error.value
    )
