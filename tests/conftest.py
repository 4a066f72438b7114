"""Shared fixtures."""

from __future__ import annotations

import pytest

from _util import make_binary, make_multiclass


@pytest.fixture
def binary_data():
    return make_binary()


@pytest.fixture
def multiclass_data():
    return make_multiclass()
