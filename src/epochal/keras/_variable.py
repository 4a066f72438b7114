"""`Variable`: the weights that ``add_weight``/``add_variable`` create, torch Parameters with Keras's methods."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


class Variable(nn.Parameter):
    """A ``torch.nn.Parameter`` with Keras's variable API: ``assign``, ``assign_add``, ``name``, ``trainable``.

    It is a tensor, so torch functions and ``keras.ops`` take it directly, and
    a layer's ``state_dict`` (hence every epochal checkpoint) holds it.
    Non-trainable variables are parameters with ``requires_grad=False``.

    Example:
        >>> v = Variable(torch.zeros(2), trainable=False, name="total")
        >>> v.assign_add(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __new__(
        cls,
        data: Tensor | None = None,
        requires_grad: bool = True,
        *,
        trainable: bool | None = None,
        name: str | None = None,
    ) -> Variable:
        grad = requires_grad if trainable is None else trainable
        out = super().__new__(cls, data, grad)
        out.__dict__["_keras_name"] = name
        return out

    @property
    def name(self) -> str | None:
        """The variable's Keras name (``add_weight(name=...)``)."""
        return self.__dict__.get("_keras_name")

    @property
    def path(self) -> str | None:
        """As Keras's ``Variable.path``: the name."""
        return self.name

    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates it (``requires_grad``)."""
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad_(bool(value))

    @property
    def value(self) -> Tensor:
        """The variable itself (a tensor), as Keras's ``Variable.value``."""
        return self

    def assign(self, value: Any) -> Variable:
        """Overwrite the values in place (broadcast; converted to this variable's dtype and device)."""
        with torch.no_grad():
            self.copy_(
                torch.as_tensor(value, device=self.device).to(self.dtype).detach().expand_as(self)
            )
        return self

    def assign_add(self, value: Any) -> Variable:
        """Add ``value`` in place."""
        with torch.no_grad():
            self.add_(torch.as_tensor(value, device=self.device).to(self.dtype).detach())
        return self

    def assign_sub(self, value: Any) -> Variable:
        """Subtract ``value`` in place."""
        with torch.no_grad():
            self.sub_(torch.as_tensor(value, device=self.device).to(self.dtype).detach())
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a numpy array (a copy off the autograd graph)."""
        return self.detach().cpu().numpy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Variable:
        if id(self) in memo:
            return memo[id(self)]
        out = Variable(
            self.data.clone(memory_format=torch.preserve_format), self.requires_grad, name=self.name
        )
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, proto: Any) -> Any:
        return (_rebuild, (self.data, self.requires_grad, self.name))

    def __repr__(self, *, tensor_contents: Any = None) -> Any:  # type: ignore[override]
        return f"<Variable name={self.name!r} shape={tuple(self.shape)} trainable={self.trainable}>\n{self.data!r}"


def _rebuild(data: Tensor, requires_grad: bool, name: str | None) -> Variable:
    return Variable(data, requires_grad, name=name)
