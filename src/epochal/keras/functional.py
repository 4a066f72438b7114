"""Functional models: ``keras.Model(inputs, outputs)`` as generated torch code.

The calls recorded on ``keras.Input`` tensors (see `epochal.keras._symbolic`)
are walked back from the outputs and emitted as a ``torch.fx`` graph; the
model's forward is that graph's generated Python (``print(model.module.code)``),
so it runs as fast as the same layers written by hand -- no interpreter walks
nodes per step. The layers are the model's child modules, named as Keras
names them.

Example:
    >>> from epochal import keras
    >>> from epochal.keras import layers
    >>> inputs = keras.Input(shape=(10,), name="features")
    >>> hidden = layers.Dense(32, activation="relu")(inputs)
    >>> outputs = layers.Dense(1, activation="sigmoid")(hidden)
    >>> model = keras.Model(inputs, outputs, name="classifier")
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.utils import _pytree as pytree

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._symbolic import KerasTensor, Node
from epochal.keras.models import Model, run_in_mode
from epochal.layers._base import Layer, snake_case

__all__ = ["Functional"]


class Functional(Model):
    """A model whose forward is the graph of layer calls from ``inputs`` to ``outputs``.

    Made by ``keras.Model(inputs, outputs, name=...)``.

    Args:
        inputs: a ``keras.Input`` tensor, a list of them, or a dict name -> tensor.
        outputs: a symbolic tensor computed from ``inputs``, a list, or a dict of them
            (the model then returns the same structure).
        name: the model's name (default ``"functional"``).
        device: where to train; defaults to CUDA when available.

    Raises:
        ArgumentTypeError: ``inputs``/``outputs`` hold something other than symbolic tensors.
        ArgumentError: an input is not a ``keras.Input``, the outputs need an input
            not in ``inputs``, or two different layers share a name.
    """

    # Set through __dict__ (not registered as submodules or buffers).
    _inputs_structure: Any
    _outputs_structure: Any
    _input_list: list[KerasTensor]
    _input_keys: list[str]
    _graph_nodes: list[Node]
    _input_layers: list[nn.Module]
    _node_names: dict[nn.Module, str]
    _display_names: dict[nn.Module, str]
    _graph_module: fx.GraphModule
    _preactivation_module: fx.GraphModule | None

    def __init__(
        self,
        inputs: Any,
        outputs: Any,
        name: str | None = None,
        *,
        device: str | torch.device | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, device=device)
        input_list, input_keys = _flatten_inputs(inputs)
        _check_outputs(outputs)
        self.__dict__["_inputs_structure"] = inputs
        self.__dict__["_outputs_structure"] = outputs
        self.__dict__["_input_list"] = input_list
        self.__dict__["_input_keys"] = input_keys
        nodes = _nodes_between(input_list, outputs)
        self.__dict__["_graph_nodes"] = nodes
        self.__dict__["_input_layers"] = [t._node.target for t in input_list]
        names = self._register_layers(nodes)
        self.__dict__["_node_names"] = names
        self.__dict__["_graph_module"] = self._emit(nodes, outputs, preactivation=False)
        self.__dict__["_preactivation_module"] = self._preactivation_graph(nodes, outputs)
        self._mirror_attributes()
        if not trainable:
            self.requires_grad_(False)

    # -- layers and names ----------------------------------------------------------------
    def _register_layers(self, nodes: list[Node]) -> dict[nn.Module, str]:
        """Registers each called module as a child named as Keras names it; returns id -> key."""
        taken: dict[str, nn.Module] = {}
        display: dict[nn.Module, str] = {}
        keys: dict[nn.Module, str] = {}
        for tensor, key in zip(self._input_list, self._input_keys, strict=True):
            layer = tensor._node.target
            name = layer.name or key
            display[layer] = name
            taken[name] = layer
        for node in nodes:
            module = node.target
            if node.kind != "module" or module in display:
                continue
            explicit = getattr(module, "name", None)
            if isinstance(explicit, str) and (
                isinstance(module, (Layer, Model)) and _explicit(module)
            ):
                if explicit in taken and taken[explicit] is not module:
                    raise ArgumentError(
                        f"keras.Model: expected unique layer names. Received: two layers named "
                        f"{explicit!r}"
                    )
                name = explicit
            else:
                base = snake_case(type(module).__name__)
                name, count = base, 0
                while name in taken:
                    count += 1
                    name = f"{base}_{count}"
            taken[name] = module
            display[module] = name
            key = self._attribute_key(name)
            self.add_module(key, module)
            keys[module] = key
        self.__dict__["_display_names"] = display
        return keys

    def _attribute_key(self, name: str) -> str:
        key = re.sub(r"\W", "_", name)
        if not key.isidentifier() or keyword.iskeyword(key):
            key = f"layer_{key}"
        while hasattr(type(self), key) or key in self.__dict__ or key in self._modules:
            key = f"{key}_"
        return key

    @property
    def layers(self) -> list[nn.Module]:
        """The layers in call order, the ``InputLayer``s first (as Keras lists them)."""
        seen: dict[nn.Module, nn.Module] = {layer: layer for layer in self._input_layers}
        for node in self._graph_nodes:
            if node.kind == "module":
                seen.setdefault(node.target, node.target)
        return list(seen.values())

    def _layer_names(self) -> list[str]:
        return [self._display_names[layer] for layer in self.layers]

    @property
    def inputs(self) -> list[KerasTensor]:
        """The model's ``keras.Input`` tensors, in order."""
        return list(self._input_list)

    @property
    def outputs(self) -> list[KerasTensor]:
        """The model's output tensors, flattened in order."""
        return [leaf for leaf in pytree.tree_leaves(self._outputs_structure)]

    @property
    def output_names(self) -> list[str]:
        """The outputs' names, as Keras names them: a dict output's keys, else the layer
        (or operation) making each output. Per-output losses, metrics and targets use them."""
        structure = self._outputs_structure
        if isinstance(structure, Mapping):
            return [str(k) for k in structure]
        names = []
        for leaf in self.outputs:
            node = leaf._node
            if node.kind in ("module", "input"):
                names.append(self._display_names[node.target])
            else:
                names.append(self._op_names()[node])
        return names

    @property
    def input(self) -> Any:
        """The inputs as given to ``keras.Model`` (a tensor, list or dict)."""
        return self._inputs_structure

    @property
    def output(self) -> Any:
        """The outputs as given to ``keras.Model`` (a tensor, list or dict)."""
        return self._outputs_structure

    @property
    def input_shape(self) -> Any:
        """The input shape(s), batch axis included (None where variable)."""
        shapes = [t.shape for t in self._input_list]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """The output shape(s), batch axis included."""
        return pytree.tree_map(lambda t: t.shape, self._outputs_structure)

    @property
    def module(self) -> fx.GraphModule:
        """The generated graph module (``print(model.module.code)`` shows the forward)."""
        return self._graph_module

    # -- code generation -----------------------------------------------------------------
    def _emit(self, nodes: list[Node], outputs: Any, *, preactivation: bool) -> fx.GraphModule:
        graph = fx.Graph()
        values: dict[Node, Any] = {}
        getitems: dict[tuple[Node, tuple[Any, ...]], Any] = {}
        for tensor, key in zip(self._input_list, self._input_keys, strict=True):
            values[tensor._node] = graph.placeholder(_identifier(key))

        def value_of(tensor: KerasTensor) -> Any:
            value = values[tensor._node]
            for depth in range(len(tensor._path)):
                prefix = (tensor._node, tensor._path[: depth + 1])
                if prefix not in getitems:
                    getitems[prefix] = graph.call_function(_getitem, (value, tensor._path[depth]))
                value = getitems[prefix]
            return value

        def lower(leaf: Any) -> Any:
            if isinstance(leaf, KerasTensor):
                return value_of(leaf)
            if isinstance(leaf, Tensor):
                return graph.get_attr(self._constant(leaf))
            return leaf

        last = _output_node(outputs) if preactivation else None
        for node in nodes:
            args, kwargs = pytree.tree_map(lower, (node.args, node.kwargs))
            if node.kind == "module":
                key = self._node_names[node.target]
                if node is last:
                    layer = graph.get_attr(key)
                    value = graph.call_method("forward_preactivation", (layer, *args), kwargs)
                else:
                    value = graph.call_module(key, tuple(args), kwargs)
            elif node.kind == "function":
                value = graph.call_function(node.target, tuple(args), kwargs)
            elif node.kind == "rfunction":
                value = graph.call_function(node.target, (args[1], args[0]), kwargs)
            else:
                value = graph.call_method(node.target, tuple(args), kwargs)
            values[node] = value
        graph.output(pytree.tree_map(lower, outputs))
        graph.lint()
        return fx.GraphModule(self, graph, class_name=_identifier(self.name))

    def _constant(self, tensor: Tensor) -> str:
        """The buffer holding a constant tensor the graph reads (registered once)."""
        constants: dict[Tensor, str] = self.__dict__.setdefault("_constants", {})
        if tensor not in constants:
            key = f"_constant_{len(constants)}"
            self.register_buffer(key, tensor.detach().clone())
            constants[tensor] = key
        return constants[tensor]

    def _preactivation_graph(self, nodes: list[Node], outputs: Any) -> fx.GraphModule | None:
        last = _output_node(outputs)
        if last is None or last.kind != "module":
            return None
        name = getattr(last.target, "activation_name", None)
        if name not in ("sigmoid", "softmax") or not callable(
            getattr(last.target, "forward_preactivation", None)
        ):
            return None
        return self._emit(nodes, outputs, preactivation=True)

    # -- running -------------------------------------------------------------------------
    def _mirror_attributes(self) -> None:
        """Puts the graph's layers and constants in ``__dict__`` too: ``self.dense`` is then a
        plain attribute read in the generated code, not ``nn.Module.__getattr__``'s search.

        ``nn.Module.__setattr__`` drops a mirrored name from ``__dict__`` when the
        attribute is set again, and `_apply` refreshes the constants (``.to()`` replaces them).
        """
        for key in self._node_names.values():
            self.__dict__[key] = self._modules[key]
        for key in self.__dict__.get("_constants", {}).values():
            self.__dict__[key] = self._buffers[key]

    def __getstate__(self) -> dict[str, Any]:
        # The generated modules are code: pickled and copied models make them again.
        state = super().__getstate__()
        state = {k: v for k, v in state.items() if k not in _GENERATED}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        nodes, outputs = self._graph_nodes, self._outputs_structure
        self.__dict__["_graph_module"] = self._emit(nodes, outputs, preactivation=False)
        self.__dict__["_preactivation_module"] = self._preactivation_graph(nodes, outputs)
        self._mirror_attributes()

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        result = super()._apply(fn, recurse)
        self._mirror_attributes()
        return result

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != len(self._input_list):
            training = kwargs.pop("training", None)
            if training is not None:
                return run_in_mode(self, training, lambda: self.forward(*args, **kwargs))
            args = self._arrange(args, kwargs)
        # The generated forward reads this model's layers (self.<name>): no extra module level.
        return type(self._graph_module).forward(self, *args)

    @property
    def activation_name(self) -> str | None:
        """The output layer's final activation (``sigmoid``/``softmax``) when one can be split off."""
        if self._preactivation_module is None:
            return None
        node = _output_node(self._outputs_structure)
        assert node is not None
        return getattr(node.target, "activation_name", None)

    def forward_preactivation(self, *args: Any, **kwargs: Any) -> Any:
        """The output before the output layer's activation (for losses that take logits)."""
        module = self._preactivation_module
        if module is None:
            return self.forward(*args, **kwargs)
        if kwargs or len(args) != len(self._input_list):
            args = self._arrange(args, kwargs)
        return type(module).forward(self, *args)

    def _arrange(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """The inputs in order from a list, a dict by input name, or keyword arguments."""
        count = len(self._input_list)
        keys: list[str] = self._input_keys
        if not kwargs and len(args) == 1:
            (only,) = args
            if isinstance(only, (list, tuple)) and len(only) == count:
                return tuple(only)
            if isinstance(only, Mapping):
                kwargs = dict(only)
                args = ()
        if kwargs and not args:
            missing = [k for k in keys if k not in kwargs]
            extra = [k for k in kwargs if k not in keys]
            if missing or extra:
                raise ArgumentError(
                    f"{self.name}: expected inputs named {keys}. Received: {sorted(kwargs)}"
                )
            return tuple(kwargs[k] for k in keys)
        raise ArgumentError(
            f"{self.name}: expected {count} input(s) ({', '.join(keys)}): positionally, as a "
            f"list, or as a dict by name. Received: {len(args)} positional and "
            f"{sorted(kwargs)} keyword argument(s)"
        )

    # -- summary ---------------------------------------------------------------------------
    def summary(
        self, line_length: int | None = None, *, print_fn: Callable[[str], Any] | None = None
    ) -> str:
        """Prints (and returns) the layers, their output shapes, parameters and inbound layers."""
        from epochal.summary import connected_table

        rows: list[tuple[str, str, int, list[str]]] = []
        for layer in self._input_layers:
            tensor = layer.__dict__["_keras_calls"][0].outputs
            rows.append((f"{self._display_names[layer]} (InputLayer)", str(tensor.shape), 0, []))
        row_of: dict[nn.Module, int] = {}  # a shared layer is one row, connected to each call
        for node in self._graph_nodes:
            inbound = [self._inbound_label(t) for t in node.parents()]
            if node.kind == "module" and node.target in row_of:
                rows[row_of[node.target]][3].extend(inbound)
                continue
            out = [t for t in pytree.tree_leaves(node.outputs) if isinstance(t, KerasTensor)]
            shape = ", ".join(str(t.shape) for t in out)
            shape = f"[{shape}]" if len(out) > 1 else shape
            params = 0
            if node.kind == "module":
                row_of[node.target] = len(rows)
                params = sum(p.numel() for p in node.target.parameters())
            rows.append((self._node_label(node), shape, params, inbound))
        text = connected_table(self, self.name, rows, line_length=line_length or 100)
        (print_fn or print)(text)
        return text

    def _op_names(self) -> dict[Node, str]:
        """Unique names of the recorded operations: ``add``, ``add_1``, ..."""
        names: dict[Node, str] = self.__dict__.get("_op_name_cache") or {}
        if not names:
            counts: dict[str, int] = {}
            for node in self._graph_nodes:
                if node.kind == "module":
                    continue
                base = (
                    node.target
                    if isinstance(node.target, str)
                    else getattr(node.target, "__name__", "op")
                )
                count = counts.get(base, 0)
                counts[base] = count + 1
                names[node] = base if count == 0 else f"{base}_{count}"
            self.__dict__["_op_name_cache"] = names
        return names

    def _node_label(self, node: Node) -> str:
        if node.kind == "module":
            return f"{self._display_names[node.target]} ({type(node.target).__name__})"
        return f"{self._op_names()[node]} (Operation)"

    def _inbound_label(self, tensor: KerasTensor) -> str:
        node = tensor._node
        if node.kind in ("module", "input"):
            name = self._display_names[node.target]
            calls = [n for n in self._graph_nodes if n.target is node.target]
            index = calls.index(node) if node in calls else 0
        else:
            name, index = self._op_names()[node], 0
        position = tensor._path[0] if tensor._path and isinstance(tensor._path[0], int) else 0
        return f"{name}[{index}][{position}]"

    def get_config(self) -> dict[str, Any]:
        """The graph as a JSON-able dict: layers with their configs and inbound calls."""
        from epochal.keras import _serialize

        return _serialize.functional_config(self)


_GENERATED = ("_graph_module", "_preactivation_module", "_op_name_cache")


def _getitem(value: Any, key: Any) -> Any:
    return value[key]


_getitem.__module__ = "operator"
_getitem.__name__ = "getitem"
_getitem.__qualname__ = "getitem"


def _explicit(module: nn.Module) -> bool:
    """Whether the module's name was given by the user (not a default one)."""
    if isinstance(module, Model):
        return not module._auto_name
    return getattr(module, "name", None) is not None


def _identifier(name: str) -> str:
    key = re.sub(r"\W", "_", name)
    if not key or not key.isidentifier() or keyword.iskeyword(key):
        key = f"input_{key}"
    return key


def _flatten_inputs(inputs: Any) -> tuple[list[KerasTensor], list[str]]:
    """The input tensors in order and the key of each (its dict key or name)."""
    if isinstance(inputs, KerasTensor):
        items: list[tuple[str | None, Any]] = [(None, inputs)]
    elif isinstance(inputs, Mapping):
        items = [(str(k), v) for k, v in inputs.items()]
    elif isinstance(inputs, (list, tuple)):
        items = [(None, v) for v in inputs]
    else:
        raise ArgumentTypeError(
            "keras.Model: expected `inputs` to be a keras.Input tensor, a list or a dict of them. "
            f"Received: inputs={inputs!r} of type {type(inputs).__name__}"
        )
    if not items:
        raise ArgumentError("keras.Model: expected at least one input. Received: inputs=[]")
    tensors: list[KerasTensor] = []
    keys: list[str] = []
    for position, (key, tensor) in enumerate(items):
        if not isinstance(tensor, KerasTensor):
            raise ArgumentTypeError(
                "keras.Model: expected every input to be a keras.Input tensor. "
                f"Received: {tensor!r} of type {type(tensor).__name__} at position {position}"
            )
        if tensor._node.kind != "input":
            raise ArgumentError(
                "keras.Model: expected `inputs` to be keras.Input tensors, not computed ones. "
                f"Received: {tensor!r} at position {position}"
            )
        if any(t is tensor for t in tensors):
            raise ArgumentError(f"keras.Model: input {tensor!r} is given twice")
        tensors.append(tensor)
        keys.append(key or tensor.name or "input_layer")
    # Unnamed inputs get Keras's names: input_layer, input_layer_1, ...
    unique: list[str] = []
    for key in keys:
        name, count = key, 0
        while name in unique:
            count += 1
            name = f"{key}_{count}"
        unique.append(name)
    return tensors, unique


def _check_outputs(outputs: Any) -> None:
    leaves = pytree.tree_leaves(outputs)
    if not leaves:
        raise ArgumentError("keras.Model: expected at least one output. Received: outputs=[]")
    for leaf in leaves:
        if not isinstance(leaf, KerasTensor):
            raise ArgumentTypeError(
                "keras.Model: expected `outputs` to hold symbolic tensors computed from the "
                f"inputs. Received: {leaf!r} of type {type(leaf).__name__}"
            )


def _nodes_between(inputs: Sequence[KerasTensor], outputs: Any) -> list[Node]:
    """The calls from ``inputs`` to ``outputs`` in the order they were made (inputs excluded)."""
    input_nodes = {t._node for t in inputs}
    found: dict[Node, Node] = {}
    stack = [leaf._node for leaf in pytree.tree_leaves(outputs)]
    while stack:
        node = stack.pop()
        if node in found or node in input_nodes:
            continue
        if node.kind == "input":
            layer = node.target
            raise ArgumentError(
                "keras.Model: the outputs depend on an Input that is not in `inputs`: "
                f"{node.outputs!r}" + (f" ({layer.name})" if layer.name else "")
            )
        found[node] = node
        stack.extend(parent._node for parent in node.parents())
    return sorted(found.values(), key=lambda n: n.serial)


def _output_node(outputs: Any) -> Node | None:
    """The node making the single output (None for several outputs or an indexed one)."""
    if not isinstance(outputs, KerasTensor) or outputs._path:
        return None
    return outputs._node
