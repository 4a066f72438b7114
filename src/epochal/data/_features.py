"""What the module takes as input: the dtype rule, shape errors, lazy layers left unbuilt.

The dtype rule (as Keras: inputs are cast to the model's dtype once, up front):

- floating, bool and integer features are cast to the model's floating dtype
  (the dtype of its first floating parameter or buffer; torch's default dtype,
  float32, while it has none): an integer pandas DataFrame, uint8 images,
  bool masks and float16/bfloat16/float64 arrays all train;
- integer features stay integer when the module takes indices: its first
  layer is an embedding (``nn.Embedding``, ``nn.EmbeddingBag``, epochal's
  ``Embedding``), or it declares an integer input (``Input(dtype=torch.long)``,
  an ``input_dtype`` attribute); float features given to such a module become
  ``int64`` ids, as Keras's ``Embedding`` casts them. For multi-input data (a
  tuple or dict), integer features stay integer when the module holds an
  embedding anywhere.

In-memory data is cast once; batches of a Dataset/DataLoader/iterable are
cast one by one as they come.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from epochal._tree import Tree, leaves, tree_map
from epochal.errors import DataError, EpochalError
from epochal.layers._base import Layer
from epochal.layers._core import Dense, Embedding
from epochal.layers._dryrun import input_dtype, reference_float

__all__ = [
    "FeatureCast",
    "check_features",
    "describe",
    "expected_input",
    "input_errors",
    "input_signature",
    "structure_key",
    "unbuilt_on_failure",
]

_INDEX_LAYERS = (nn.Embedding, nn.EmbeddingBag, Embedding)


def _takes_indices(module: nn.Module) -> bool:
    """Whether a single input of ``module`` is indices (an embedding first, or declared)."""
    try:
        return not input_dtype(module).is_floating_point
    except Exception:  # an exotic module the structural walk cannot read: floats
        return False


class FeatureCast:
    """Casts features to the model's floating dtype, integers feeding an embedding excepted."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.dtype = reference_float(module)[1]
        self.single_indices = _takes_indices(module)

    @functools.cached_property
    def multi_indices(self) -> bool:
        """Whether integer leaves of a multi-input tree may be ids (any embedding inside).

        Read only for trees of inputs: it walks the whole module.
        """
        return self.single_indices or any(
            isinstance(m, _INDEX_LAYERS) for m in self.module.modules()
        )

    def __call__(self, x: Tree) -> Tree:
        keep_integers = self.single_indices if isinstance(x, Tensor) else self.multi_indices
        dtype = self.dtype

        if isinstance(x, Tensor) and self.single_indices and x.is_floating_point():
            return x.long()  # float ids for an embedding (a float DataFrame): cast, as Keras does

        def cast(t: Any) -> Any:
            if not isinstance(t, Tensor) or t.dtype == dtype:
                return t
            if t.is_floating_point() or t.dtype == torch.bool:
                return t.to(dtype)
            if t.is_complex():
                return t
            if keep_integers:  # indices: the integer types embeddings take
                return t if t.dtype in (torch.int64, torch.int32) else t.long()
            return t.to(dtype)

        return tree_map(cast, x)


def _shape(t: Any) -> str:
    if not isinstance(t, Tensor):
        return type(t).__name__
    return "(" + ", ".join(["N", *(str(d) for d in t.shape[1:])]) + ")"


def structure_key(x: Tree) -> Any:
    """The structure of ``x`` (dict keys, tuple length), hashable, leaves left out."""
    if isinstance(x, dict):
        return ("dict", *((k, structure_key(v)) for k, v in x.items()))
    if isinstance(x, (tuple, list)):
        return ("tuple", *(structure_key(v) for v in x))
    return "leaf"


def input_signature(x: Tree) -> Any:
    """What a forward pass's success depends on: the structure, and each leaf's
    per-sample shape and dtype (hashable)."""
    return (
        structure_key(x),
        *((tuple(t.shape[1:]), t.dtype) for t in leaves(x) if isinstance(t, Tensor)),
    )


def describe(x: Tree) -> str:
    """The received structure and shapes, batch axis as N: ``(N, 3)``, ``a dict {'a': (N, 3)}``."""
    if isinstance(x, dict):
        inner = ", ".join(f"{k!r}: {describe(v)}" for k, v in x.items())
        return f"a dict {{{inner}}}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} ({', '.join(describe(v) for v in x)})"
    return f"shape {_shape(x)}" if isinstance(x, Tensor) else f"a {type(x).__name__}"


def check_features(x: Tree, name: str) -> None:
    """Refuse features with an axis of size 0 besides the batch axis (``x`` of shape ``(n, 0)``)."""
    for leaf in leaves(x):
        if isinstance(leaf, Tensor) and leaf.ndim > 1 and 0 in leaf.shape[1:]:
            raise DataError(
                f"Expected `{name}` to hold at least one feature per sample. Received "
                f"{describe(x)}, with an empty axis"
            )


def _first_layer(module: nn.Module) -> nn.Module:
    while not isinstance(module, Layer):
        child = next(iter(module.children()), None)
        if child is None:
            break
        module = child
    return module


def expected_input(module: nn.Module, seen: tuple[int, ...] | None = None) -> str | None:
    """What the model takes, in words: the training shape seen, else what its first layer reads."""
    if seen is not None:
        return "shape (" + ", ".join(["N", *(str(d) for d in seen)]) + ")"
    first = _first_layer(module)
    declared = getattr(first, "input_shape", None)
    if isinstance(first, Layer) and isinstance(declared, tuple):
        return "shape (" + ", ".join(["N", *("?" if d is None else str(d) for d in declared)]) + ")"
    if isinstance(first, nn.Linear):
        return f"shape (N, ..., {first.in_features})"
    if isinstance(first, Dense) and first.in_features is not None:
        return f"shape (N, ..., {first.in_features})"
    if isinstance(first, nn.modules.conv._ConvNd) and not isinstance(
        first, nn.modules.lazy.LazyModuleMixin
    ):
        spatial = ", ".join("?" for _ in first.kernel_size)
        return f"shape (N, {first.in_channels}, {spatial})"
    if isinstance(first, (nn.Embedding, Embedding)):
        count = first.num_embeddings if isinstance(first, nn.Embedding) else first.input_dim
        return f"integer ids in [0, {count - 1}]"
    return None


def _structure_error(module: nn.Module, x: Tree, name: str) -> str | None:
    """Why a dict or tuple ``x`` cannot be passed to ``module.forward``, from its signature."""
    if not isinstance(x, (dict, tuple, list)):
        return None
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in params}
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if isinstance(x, dict):
        unknown = [k for k in x if k not in names]
        if unknown and inspect.Parameter.VAR_KEYWORD not in kinds:
            return (
                f"`{name}` is a dict with keys {list(x)}, passed as keyword arguments, but "
                f"{type(module).__name__}.forward takes ({', '.join(names)}). Pass an array for a "
                "single-input module, or a dict keyed by forward's argument names"
            )
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(x) > len(positional) and inspect.Parameter.VAR_POSITIONAL not in kinds:
        return (
            f"`{name}` is a {type(x).__name__} of {len(x)} arrays, passed as positional arguments, "
            f"but {type(module).__name__}.forward takes {len(positional)}. Pass a single array "
            "for a single-input module"
        )
    return None


@contextlib.contextmanager
def input_errors(
    name: str, x: Tree, module: nn.Module, seen: tuple[int, ...] | None = None
) -> Iterator[None]:
    """Turn the module's failure on ``x`` into a `DataError` naming ``name`` and the shapes.

    Also refuses, before the block runs, features with an empty axis and a
    dict or tuple the module's ``forward`` cannot take.
    """
    check_features(x, name)
    structure = _structure_error(module, x, name)
    if structure is not None:
        raise DataError(structure)
    try:
        yield
    except EpochalError:
        raise
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, TypeError, ValueError, IndexError, AssertionError) as exc:
        expected = expected_input(module, seen)
        first_line = next(iter(str(exc).strip().splitlines()), type(exc).__name__)
        raise DataError(
            f"`{name}` of {describe(x)} does not fit the model"
            + (f": expected {expected}" if expected else "")
            + f". The module raised {type(exc).__name__}: {first_line}"
        ) from exc


def _is_unbuilt(sub: nn.Module) -> bool:
    if isinstance(sub, Layer):
        return not sub.built
    lazy = isinstance(sub, nn.modules.lazy.LazyModuleMixin)
    return lazy and bool(sub.has_uninitialized_params())  # type: ignore[operator]


def _lazy_modules(module: nn.Module) -> list[nn.Module]:
    return [sub for sub in module.modules() if _is_unbuilt(sub)]


def _saved_state(sub: nn.Module) -> tuple[type, dict[str, Any]]:
    # Dicts (parameters, buffers, submodules, hooks) are copied: building mutates them in place.
    state = {k: (type(v)(v) if isinstance(v, dict) else v) for k, v in vars(sub).items()}
    for key in ("_parameters", "_buffers"):
        # torch's uninitialized parameters are materialized in place: keep fresh ones.
        state[key] = {name: _fresh(t) for name, t in state[key].items()}
    return type(sub), state


def _restore(sub: nn.Module, state: dict[str, Any]) -> None:
    current = vars(sub)
    for key, value in state.items():
        # Dicts are refilled in place: hook handles hold references to them.
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key].clear()
            current[key].update(value)
            state[key] = current[key]
    current.clear()
    current.update(state)


def _fresh(t: Any) -> Any:
    kinds = (nn.parameter.UninitializedParameter, nn.parameter.UninitializedBuffer)
    if isinstance(t, kinds):
        make: Any = type(t)  # (requires_grad, device, dtype); torch's stubs say otherwise
        return make(requires_grad=t.requires_grad, device=t.device, dtype=t.dtype)
    return t


@contextlib.contextmanager
def unbuilt_on_failure(module: nn.Module) -> Iterator[None]:
    """Lazy layers built inside the block are put back unbuilt if the block raises.

    So a refused first call (wrong targets, a validation set of another width)
    leaves the model as it was, and the corrected call builds it for its data.
    """
    saved = [(sub, *_saved_state(sub)) for sub in _lazy_modules(module)]
    try:
        yield
    except BaseException:
        for sub, cls, state in saved:
            _restore(sub, state)
            sub.__class__ = cls  # torch's lazy modules change class when built
        raise


Cast = Callable[[Tree], Tree]
