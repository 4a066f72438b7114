"""Tables as training data: a target named by its column, the other columns as features.

``fit(table, y="label")``, ``evaluate(table, "label")`` and
``validation_data=(table, "label")`` take a pandas DataFrame, a HuggingFace
``datasets.Dataset`` or a dict of equal-length columns. The named column (or
list of columns) is the target; the other columns are the features, stacked
into one float32 array of shape (n, features). A column whose values are
arrays (an image, an embedding) keeps its shape when it is the only feature
column and is flattened when stacked with others. String and categorical
columns are an error naming them: encode them first.

A ``datasets.Dataset`` column (``ds["features"]``) is taken as the array it
holds (a column of scalars as features is one feature: shape (n, 1)), so
``fit(ds["features"], ds["label"])`` works too. Tables are
converted once, in memory, and train on the fast device-resident path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from epochal.errors import ArgumentError, ArgumentTypeError, DataError

__all__ = ["resolve_table"]


def _module_of(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def _is_dataframe(value: Any) -> bool:
    return _module_of(value) == "pandas" and type(value).__name__ == "DataFrame"


def _is_hf_dataset(value: Any) -> bool:
    return _module_of(value) == "datasets" and type(value).__name__ == "Dataset"


def _is_hf_column(value: Any) -> bool:
    return _module_of(value) == "datasets" and type(value).__name__ == "Column"


def _is_column_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) for k in value)


def is_table(value: Any) -> bool:
    """A DataFrame, a ``datasets.Dataset`` or a dict of named columns."""
    return _is_dataframe(value) or _is_hf_dataset(value) or _is_column_dict(value)


def _target_names(y: Any) -> list[str] | None:
    """The target column names when ``y`` names columns, else None (``y`` is data)."""
    if isinstance(y, str):
        return [y]
    if (
        isinstance(y, (list, tuple))
        and y
        and all(isinstance(n, str) for n in y)
        and not isinstance(y, np.ndarray)
    ):
        return list(y)
    return None


def _columns(table: Any, name: str) -> dict[str, Any]:
    """Column name -> raw column values, in the table's order."""
    if _is_dataframe(table):
        return {str(c): table[c] for c in table.columns}
    if _is_hf_dataset(table):
        return dict(table.with_format("numpy")[:])
    return {str(k): v for k, v in table.items()}


def _column_array(values: Any, column: str, name: str) -> np.ndarray:
    """One column as a numeric numpy array, or a DataError naming the column."""
    if _module_of(values) == "pandas":
        from pandas import CategoricalDtype
        from pandas.api import types

        dtype = values.dtype
        if not (types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)):
            kind = "categorical" if isinstance(dtype, CategoricalDtype) else str(dtype)
            raise DataError(
                f"Column {column!r} of `{name}` holds {kind} values; epochal needs numbers. "
                "Encode it first (for example pandas.get_dummies, or .cat.codes)"
            )
        values = values.to_numpy()
    elif _is_hf_column(values):
        values = values.source.with_format("numpy")[values.column_name]
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged lists
        raise DataError(
            f"Column {column!r} of `{name}` holds values of different lengths; "
            "epochal needs one array shape per column"
        ) from exc
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"Column {column!r} of `{name}` holds {array.dtype} values (for example "
            f"{array.reshape(-1)[:1].tolist()}); epochal needs numbers. Encode it first "
            "(for example one-hot or integer codes)"
        )
    return array


def _stack_features(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    if not arrays:
        raise DataError(
            f"`{name}` has no feature columns left once the target column(s) are taken out"
        )
    if len(arrays) == 1:
        (only,) = arrays.values()
        # One scalar column is one feature: (n, 1), as the stacked case gives (n, k).
        return (only.reshape(-1, 1) if only.ndim == 1 else only).astype(np.float32)
    parts = [a.reshape(len(a), -1).astype(np.float32) for a in arrays.values()]
    return np.concatenate(parts, axis=1)


def _split(table: Any, targets: list[str], name: str, y_name: str) -> tuple[np.ndarray, Any]:
    columns = _columns(table, name)
    missing = [t for t in targets if t not in columns]
    if missing:
        raise ArgumentError(
            f"Expected `{y_name}` to name columns of `{name}`. Received: {y_name}={missing!r}; "
            f"the columns are {list(columns)}"
        )
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f"Expected the columns of `{name}` to have equal lengths. Received lengths {lengths}"
        )
    arrays = {k: _column_array(v, k, name) for k, v in columns.items()}
    features = _stack_features({k: a for k, a in arrays.items() if k not in targets}, name)
    if len(targets) == 1:
        target = arrays[targets[0]]
    else:
        target = np.stack([arrays[t].astype(np.float32) for t in targets], axis=1)
    return features, target


def resolve_table(x: Any, y: Any, names: Sequence[str]) -> tuple[Any, Any]:
    """``(x, y)`` with a table split by its named target column(s); other inputs unchanged.

    Args:
        x: the inputs, possibly a table.
        y: the targets, or the name (or list of names) of ``x``'s target column(s).
        names: the argument names used in error messages (x's, y's).

    Raises:
        ArgumentTypeError: ``y`` names a column but ``x`` is not a table.
        ArgumentError: a named column is missing, or a ``datasets.Dataset``
            is given without naming its target.
        DataError: a string or categorical column, or columns of unequal length.
    """
    xn, yn = names[0], names[1]
    if _is_hf_column(x):
        x = _stack_features({x.column_name: _column_array(x, x.column_name, xn)}, xn)
    if _is_hf_column(y):
        y = _column_array(y, y.column_name, yn)
    targets = _target_names(y) if isinstance(y, str) or is_table(x) else None
    if targets is None:
        if _is_hf_dataset(x):
            raise ArgumentError(
                f"Expected `{yn}` to name the target column(s) of the datasets.Dataset `{xn}`, "
                f"for example {yn}='label'. Received: {yn}={y!r:.60}; the columns are "
                f"{list(x.column_names)}"
            )
        return x, y
    if not is_table(x):
        raise ArgumentTypeError(
            f"`{yn}`={y!r} names column(s), so `{xn}` must be a table: a pandas DataFrame, a "
            f"datasets.Dataset or a dict of columns. Received: {xn} of type {type(x).__name__}"
        )
    return _split(x, targets, xn, yn)
