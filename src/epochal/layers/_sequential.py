"""`SequentialModule`: a stack of layers with Keras names, and `ensure_built`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

import torch
from torch import nn

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, snake_case
from epochal.layers._core import InputLayer
from epochal.layers._dryrun import eval_forward, is_built, zero_batch

_OWNER = "SequentialModule"


class SequentialModule(nn.Module):
    """Layers applied one after the other, named as Keras names them.

    Each layer is a child module named after its class, counted per container:
    ``dense``, ``dense_1``, ``dropout``, ... (a layer's explicit ``name=`` wins).
    Any ``torch.nn.Module`` may be a layer.

    An :func:`~epochal.layers.Input` first declares the input shape (and dtype)
    and, as in Keras 3, is not a layer of the container.

    When the input shape is known -- an ``input_shape`` on the first layer, an
    ``Input`` first, or :meth:`build` -- the container builds
    every lazy layer at once with a dry run (one eval-mode forward on a zero
    batch, without gradients), so its parameters exist before training starts
    and wrong shapes fail here rather than in ``fit``. Otherwise lazy layers build
    on the first call.

    The container passes on its last layer's final-activation protocol:
    ``activation_name`` and ``forward_preactivation``.

    Args:
        layers: the layers, first to last.
        name: a name for the container (shown by the summary).

    Example:
        >>> from epochal.layers import Dense, Dropout
        >>> net = SequentialModule([Dense(64, "relu", input_shape=(10,)), Dropout(0.2), Dense(1)])
        >>> [name for name, _ in net.named_children()]
        ['dense', 'dropout', 'dense_1']
    """

    def __init__(
        self, layers: Iterable[nn.Module] | None = None, *, name: str | None = None
    ) -> None:
        super().__init__()
        self.name: str | None = checks.layer_name(_OWNER, name)
        self._declared_input_shape: Shape | None = None
        self.input_dtype: torch.dtype | None = None
        if layers is None:
            layers = ()
        if isinstance(layers, nn.Module) or not isinstance(layers, Iterable):
            raise ArgumentTypeError(
                f"{_OWNER}: expected `layers` to be a list of torch.nn.Module. "
                f"Received: layers={layers!r} of type {type(layers).__name__}"
            )
        for index, layer in enumerate(layers):
            self._register(layer, f"layers[{index}]")
        if self.input_shape is not None:
            self._dry_build(self.input_shape)

    # -- the stack ------------------------------------------------------------
    @property
    def layers(self) -> list[nn.Module]:
        """The layers, first to last."""
        return list(self._modules.values())  # type: ignore[arg-type]

    def sequential_layers(self) -> list[nn.Module]:
        """The layers in call order (how the training loop finds a final activation)."""
        return self.layers

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.layers)

    def __getitem__(self, key: int | str) -> nn.Module:
        """The layer at a position, or with a name."""
        if isinstance(key, str):
            if key not in self._modules:
                raise ArgumentError(
                    f"{_OWNER}: no layer named {key!r}. Layers: {', '.join(self._modules)}"
                )
            return self._modules[key]  # type: ignore[return-value]
        return self.layers[key]

    @property
    def input_shape(self) -> Shape | None:
        """The input shape without the batch axis, if known (from ``Input``, the first layer or `build`)."""
        if self._declared_input_shape is not None:
            return self._declared_input_shape
        first = next(iter(self._modules.values()), None)
        return first.input_shape if isinstance(first, Layer) else None

    @property
    def built(self) -> bool:
        """Whether every lazy layer has its parameters."""
        return is_built(self)

    def add(self, layer: nn.Module) -> None:
        """Appends a layer; builds it now if the container's input shape is known.

        Args:
            layer: any ``torch.nn.Module``.

        Raises:
            ArgumentTypeError: ``layer`` is not a module.
            ArgumentError: its name is taken, or it does not fit the output of
                the layers before it (the container is then left unchanged).
        """
        name = self._register(layer, "layer")
        shape = self.input_shape
        if name is not None and shape is not None:
            try:
                self._dry_build(shape)
            except Exception:
                del self._modules[name]
                raise

    def build(self, input_shape: Shape) -> None:
        """Builds every lazy layer for inputs of ``input_shape`` (without the batch axis).

        Args:
            input_shape: e.g. ``(784,)``; None for a variable-size axis.

        Example:
            >>> from epochal.layers import Dense
            >>> net = SequentialModule([Dense(4)])
            >>> net.build((3,))
            >>> net.built
            True
        """
        shape = checks.shape(_OWNER, "input_shape", input_shape)
        if shape is None:
            raise ArgumentTypeError(
                f"{_OWNER}: expected `input_shape` to be a tuple of positive ints. "
                "Received: input_shape=None"
            )
        self._dry_build(shape)
        self._declared_input_shape = shape

    def _register(self, layer: object, where: str) -> str | None:
        """Adds ``layer`` as a child and returns its name; an InputLayer only declares the input."""
        if not isinstance(layer, nn.Module):
            raise ArgumentTypeError(
                f"{_OWNER}: expected {where} to be a torch.nn.Module. "
                f"Received: {where}={layer!r} of type {type(layer).__name__}"
            )
        if isinstance(layer, InputLayer):
            if len(self._modules) > 0 or self._declared_input_shape is not None:
                raise ArgumentError(
                    f"{_OWNER}: expected an InputLayer only as the first layer. "
                    f"Received: {where}={layer!r} after {len(self._modules)} layer(s)"
                )
            # Like Keras 3, the input is a declaration, not a layer: nothing runs per step.
            self._declared_input_shape = layer.input_shape
            self.input_dtype = layer.dtype
            return None
        name = self._name_for(layer)
        try:
            self.add_module(name, layer)
        except KeyError:
            raise ArgumentError(
                f"{_OWNER}: expected a layer name that is not an attribute of the container. "
                f"Received: name={name!r}"
            ) from None
        return name

    def _name_for(self, layer: nn.Module) -> str:
        explicit = layer.name if isinstance(layer, Layer) else None
        if explicit is not None:
            if explicit in self._modules:
                raise ArgumentError(
                    f"{_OWNER}: expected unique layer names. Received: name={explicit!r}, "
                    "already used in this container"
                )
            return explicit
        base = snake_case(type(layer).__name__)
        name, count = base, 0
        while name in self._modules:
            count += 1
            name = f"{base}_{count}"
        return name

    def _dry_build(self, shape: Shape) -> None:
        # Draws initial weights from the global RNG, as eager torch modules do.
        if len(self._modules):
            eval_forward(self, zero_batch(self, shape, batch=2))

    # -- computation ----------------------------------------------------------
    def forward(self, x: Any) -> Any:
        for layer in cast("Iterable[nn.Module]", self._modules.values()):
            x = layer(x)
        return x

    @property
    def activation_name(self) -> str | None:
        """The last layer's ``activation_name`` (None if it has none)."""
        last = next(reversed(self._modules.values()), None)
        return getattr(last, "activation_name", None)

    def forward_preactivation(self, x: Any) -> Any:
        """The output before the last layer's activation."""
        layers = self.layers
        for layer in layers[:-1]:
            x = layer(x)
        last = layers[-1] if layers else None
        if last is None:
            return x
        preactivation = getattr(last, "forward_preactivation", None)
        return last(x) if preactivation is None else preactivation(x)

    def extra_repr(self) -> str:
        return f"name={self.name!r}" if self.name is not None else ""


def ensure_built(module: nn.Module, example_input: Any) -> bool:
    """Builds the lazy layers of ``module`` with one dry forward on ``example_input``.

    The forward runs in eval mode without gradients (no dropout draws, no
    batch-norm statistics updated) and the train/eval flags are restored. The
    new weights are drawn from torch's global RNG. Call it before creating an
    optimizer over ``module.parameters()``.

    Args:
        module: any module; one without lazy layers is left alone.
        example_input: an input batch (a slice of the training data will do).

    Returns:
        Whether a forward ran (False when everything was already built).

    Example:
        >>> import torch
        >>> from epochal.layers import Dense
        >>> net = SequentialModule([Dense(4)])
        >>> ensure_built(net, torch.zeros(2, 3)), len(list(net.parameters()))
        (True, 2)
    """
    if is_built(module):
        return False
    eval_forward(module, example_input)
    return True
