"""Model architectures as JSON-able configs, and back: what ``.keras`` files and ``to_json`` hold.

A config names classes, never code: a layer is ``{"class_name", "registered_name",
"config"}``, found again among epochal.keras's layers, the classes registered
with `register_keras_serializable`, or ``custom_objects``. A functional
model's config lists its inputs, its layers and its recorded calls in order
(module calls, and torch functions/tensor methods by name, restricted to
torch's overridable functions, ``operator`` and the tensor's public methods),
so rebuilding it replays the calls on new ``keras.Input`` tensors.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.fx.node import _get_qualified_name
from torch.utils import _pytree as pytree

from epochal import activations
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._symbolic import DTYPES, Input, KerasTensor, Node
from epochal.layers._dryrun import preserved_rng

__all__ = [
    "custom_object_scope",
    "decode",
    "encode",
    "get_registered_name",
    "get_registered_object",
    "layer_entry",
    "model_entry",
    "model_from_entry",
    "register_keras_serializable",
]

T = TypeVar("T")

_REGISTRY: dict[str, Any] = {}
_SCOPES: list[Mapping[str, Any]] = []


def register_keras_serializable(
    package: str = "Custom", name: str | None = None
) -> Callable[[T], T]:
    """Registers a class (or function) so saved models find it by name, as Keras's decorator.

    Args:
        package: a namespace for the name.
        name: the name within the package (default: the class's ``__name__``).

    Returns:
        A decorator returning the class unchanged.

    Raises:
        ArgumentError: the ``package>name`` key is registered to another object.

    Example:
        >>> @register_keras_serializable(package="my_package")
        ... class Scale(keras.layers.Layer): ...
    """
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise ArgumentTypeError(
            "register_keras_serializable: expected `package` and `name` to be strings. "
            f"Received: package={package!r}, name={name!r}"
        )

    def decorator(obj: T) -> T:
        key = f"{package}>{name or getattr(obj, '__name__', '')}"
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not obj and _qualname(existing) != _qualname(obj):
            raise ArgumentError(
                f"register_keras_serializable: {key!r} is already registered to {existing!r}"
            )
        _REGISTRY[key] = obj
        obj._keras_registered_name = key  # type: ignore[attr-defined]
        return obj

    return decorator


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is registered under (its ``__name__`` when it is not registered)."""
    target = (
        obj
        if isinstance(obj, type) or (callable(obj) and not isinstance(obj, nn.Module))
        else type(obj)
    )
    registered = (
        target.__dict__.get("_keras_registered_name")
        if isinstance(target, type)
        else getattr(target, "_keras_registered_name", None)
    )
    return str(registered or getattr(target, "__name__", type(obj).__name__))


def get_registered_object(
    name: str, custom_objects: Mapping[str, Any] | None = None, module_objects: Any = None
) -> Any:
    """The object registered (or given in ``custom_objects`` or a scope) under ``name``, or None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_SCOPES):
        if name in scope:
            return scope[name]
    if name in _REGISTRY:
        return _REGISTRY[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


@contextlib.contextmanager
def custom_object_scope(*scopes: Mapping[str, Any] | None) -> Iterator[None]:
    """Makes ``custom_objects`` visible to every load and ``from_config`` inside the ``with``."""
    added = [scope for scope in scopes if scope]
    for scope in added:
        if not isinstance(scope, Mapping):
            raise ArgumentTypeError(
                f"custom_object_scope: expected dicts name -> object. Received: {scope!r}"
            )
    _SCOPES.extend(added)
    try:
        yield
    finally:
        del _SCOPES[len(_SCOPES) - len(added) :]


# -- classes ----------------------------------------------------------------------------


def _builtin_classes() -> dict[str, type]:
    from epochal import layers as native_layers
    from epochal.keras import layers as keras_layers
    from epochal.keras.functional import Functional
    from epochal.keras.models import Model, Sequential

    found: dict[str, type] = {}
    for namespace in (native_layers, keras_layers):
        for key, value in vars(namespace).items():
            if isinstance(value, type) and issubclass(value, nn.Module):
                found.setdefault(key, value)
    found.update({"Functional": Functional, "Model": Model, "Sequential": Sequential})
    return found


def resolve_class(entry: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> type:
    """The class an entry names: custom objects, scopes, the registry, then epochal's layers."""
    class_name = entry.get("class_name")
    registered = entry.get("registered_name")
    if not isinstance(class_name, str):
        raise ArgumentError(f"A layer entry has no class_name. Received: {dict(entry)!r}")
    for name in (registered, class_name):
        if isinstance(name, str):
            found = get_registered_object(name, custom_objects)
            if found is not None:
                return _checked_class(found, name)
    builtin = _builtin_classes().get(class_name)
    if builtin is not None and (registered is None or registered == class_name):
        return builtin
    raise ArgumentError(
        f"Unknown layer class {registered or class_name!r}: pass it in "
        f"custom_objects={{{class_name!r}: {class_name}}} or decorate it with "
        "@keras.saving.register_keras_serializable()"
    )


def _checked_class(found: Any, name: str) -> type:
    if not isinstance(found, type) or not issubclass(found, nn.Module):
        raise ArgumentTypeError(
            f"custom object {name!r}: expected a torch.nn.Module class. Received: {found!r}"
        )
    return found


# -- values -----------------------------------------------------------------------------


def encode(value: Any, where: str) -> Any:
    """``value`` as JSON-able data; raises `ArgumentError` naming ``where`` when it cannot be."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, where) for v in value]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ArgumentError(f"{where}: a dict with non-string keys cannot be saved: {value!r}")
        return {k: encode(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, slice):
        return {
            "__slice__": [
                encode(value.start, where),
                encode(value.stop, where),
                encode(value.step, where),
            ]
        }
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, nn.Module):
        return {"__layer__": layer_entry(value, None)}
    if callable(value) and not isinstance(value, type) and hasattr(value, "__name__"):
        return {"__function__": _function_name(value, where)}
    return {"__object__": _object_entry(value, where)}


def decode(value: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    """The value `encode` made."""
    if isinstance(value, list):
        return [decode(v, custom_objects) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "__tuple__" and isinstance(inner, list):
            return tuple(decode(v, custom_objects) for v in inner)
        if tag == "__float__" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "__dtype__":
            return _dtype(inner)
        if tag == "__slice__" and isinstance(inner, list) and len(inner) == 3:
            return slice(*(decode(v, custom_objects) for v in inner))
        if tag == "__ellipsis__":
            return Ellipsis
        if tag == "__layer__":
            return layer_from_entry(inner, custom_objects)
        if tag == "__function__":
            return _function_from_name(inner, custom_objects)
        if tag == "__object__":
            return _object_from_entry(inner, custom_objects)
    return {k: decode(v, custom_objects) for k, v in value.items()}


def _dtype(name: Any) -> torch.dtype:
    if name not in DTYPES:
        raise ArgumentError(f"Unknown dtype {name!r} in a saved config")
    return DTYPES[name]


def _function_name(fn: Callable[..., Any], where: str) -> str:
    registered = getattr(fn, "_keras_registered_name", None)
    if isinstance(registered, str):
        return registered
    name = getattr(fn, "__name__", "")
    if getattr(activations, name, None) is fn:
        return f"epochal.activations.{name}"
    if getattr(operator, name, None) is fn:
        return f"operator.{name}"
    try:
        qualified = _get_qualified_name(fn)
    except (RuntimeError, AttributeError, TypeError):
        qualified = ""
    if qualified and _allowed_function(qualified) is fn:
        return qualified
    raise ArgumentError(
        f"{where}: the function {fn!r} cannot be saved by name: use a name string "
        "(e.g. activation='relu'), or register it with @keras.saving.register_keras_serializable()"
    )


_ROOTS = ("torch", "operator", "math", "epochal.activations")


def _overridable() -> set[Any]:
    cache = _overridable.__dict__.get("cache")
    if cache is None:
        cache = set()
        for functions in torch.overrides.get_overridable_functions().values():
            cache.update(functions)
        _overridable.__dict__["cache"] = cache
    return cache


def _allowed_function(qualified: str) -> Any:
    """The function named ``qualified`` if a saved model may call it, else None."""
    root = next((r for r in _ROOTS if qualified == r or qualified.startswith(r + ".")), None)
    if root is None:
        return None
    obj: Any = importlib.import_module(root)
    for part in qualified[len(root) + 1 :].split("."):
        if not part or part.startswith("__"):
            return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    if root == "torch" and obj not in _overridable():
        return None
    return obj if callable(obj) else None


def _function_from_name(name: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    if not isinstance(name, str):
        raise ArgumentError(f"A saved function name must be a string. Received: {name!r}")
    found = get_registered_object(name, custom_objects)
    if found is None:
        found = _allowed_function(name)
    if found is None:
        raise ArgumentError(
            f"Unknown function {name!r} in a saved config: pass it in custom_objects or "
            "register it with @keras.saving.register_keras_serializable()"
        )
    return found


def _object_entry(value: Any, where: str) -> dict[str, Any]:
    """An object with ``get_config`` (or whose attributes name its arguments) by class name."""
    cls = type(value)
    get_config = getattr(value, "get_config", None)
    config = get_config() if callable(get_config) else _attribute_config(value, where)
    return {
        "class_name": cls.__name__,
        "module": cls.__module__,
        "registered_name": getattr(cls, "_keras_registered_name", None),
        "config": encode(config, f"{where}.{cls.__name__}"),
    }


def _attribute_config(value: Any, where: str) -> dict[str, Any]:
    import inspect

    try:
        parameters = inspect.signature(type(value).__init__).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    config: dict[str, Any] = {}
    for name, parameter in list(parameters.items())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(value, name):
            config[name] = getattr(value, name)
        elif parameter.default is parameter.empty:
            raise ArgumentError(
                f"{where}: a {type(value).__name__} cannot be saved: it has no get_config() and "
                f"no attribute {name!r} for its argument of that name"
            )
    return config


_OBJECT_MODULES = (
    "epochal.keras.initializers",
    "epochal.initializers",
    "epochal.keras.regularizers",
    "epochal.keras.constraints",
    "epochal.keras.optimizers",
    "epochal.keras.optimizers.schedules",
    "epochal.keras.losses",
    "epochal.keras.metrics",
)


def _object_from_entry(entry: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ArgumentError(f"A saved object entry is malformed: {entry!r}")
    name = entry.get("registered_name") or entry["class_name"]
    cls = get_registered_object(name, custom_objects) or get_registered_object(
        entry["class_name"], custom_objects
    )
    if cls is None and entry.get("module") in _OBJECT_MODULES:
        namespace = importlib.import_module(entry["module"])
        cls = getattr(namespace, entry["class_name"], None)
    if not isinstance(cls, type):
        raise ArgumentError(
            f"Unknown class {name!r} in a saved config: pass it in custom_objects or register it"
        )
    config = decode(entry.get("config") or {}, custom_objects)
    from_config = getattr(cls, "from_config", None)
    return from_config(config) if callable(from_config) else cls(**config)


# -- layers and models ------------------------------------------------------------------


def layer_entry(layer: nn.Module, name: str | None) -> dict[str, Any]:
    """``{"class_name", "registered_name", "config"}`` for a layer, its name set to ``name``."""
    from epochal.keras.models import Model

    cls = type(layer)
    get_config = getattr(layer, "get_config", None)
    if not callable(get_config):
        raise ArgumentError(
            f"The layer {name or cls.__name__!r} ({cls.__name__}) cannot be saved: a plain "
            "torch.nn.Module has no get_config(). Use a keras layer, or a keras.layers.Layer "
            "subclass"
        )
    if isinstance(layer, Model):
        return model_entry(layer)
    config = dict(get_config())
    if name is not None and "name" in config:
        config["name"] = name
    return {
        "class_name": cls.__name__,
        "registered_name": getattr(cls, "_keras_registered_name", None),
        "config": encode(config, f"layer {name or cls.__name__!r}"),
    }


def layer_from_entry(entry: Any, custom_objects: Mapping[str, Any] | None) -> nn.Module:
    """The layer (or model) `layer_entry` describes, freshly made."""
    if not isinstance(entry, dict):
        raise ArgumentError(f"A saved layer entry is malformed: {entry!r}")
    cls = resolve_class(entry, custom_objects)
    from epochal.keras.models import Model

    if issubclass(cls, Model):
        return model_from_entry(entry, custom_objects)
    config = decode(entry.get("config") or {}, custom_objects)
    if not isinstance(config, dict):
        raise ArgumentError(f"A saved layer config must be a dict. Received: {config!r}")
    from_config = getattr(cls, "from_config", None)
    layer = from_config(config) if callable(from_config) else cls(**config)
    if not isinstance(layer, nn.Module):
        raise ArgumentTypeError(f"{cls.__name__}.from_config returned {layer!r}, not a module")
    return layer


def model_entry(model: Any) -> dict[str, Any]:
    """``{"class_name", "registered_name", "config"}`` for a keras model."""
    from epochal.keras.functional import Functional
    from epochal.keras.models import Sequential

    cls = type(model)
    config = model.get_config()
    if cls not in (Functional, Sequential):  # theirs are JSON-able already
        config = encode(config, f"model {model.name!r}")
    return {
        "class_name": cls.__name__,
        "registered_name": getattr(cls, "_keras_registered_name", None),
        "config": config,
    }


def model_from_entry(entry: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> Any:
    """The model `model_entry` describes (layers made fresh, weights not loaded)."""
    cls = resolve_class(entry, custom_objects)
    config = entry.get("config")
    if not isinstance(config, dict):
        raise ArgumentError(f"A saved model config must be a dict. Received: {config!r}")
    return model_from_config(cls, config, custom_objects)


def model_from_config(
    cls: type, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None
) -> Any:
    """A model of class ``cls`` from its ``get_config`` dict."""
    from epochal.keras.functional import Functional
    from epochal.keras.models import Sequential

    if "nodes" in config and "inputs" in config:
        return functional_from_config(config, custom_objects)
    if issubclass(cls, Sequential) and "layers" in config:
        return sequential_from_config(config, custom_objects)
    if cls is Functional:
        raise ArgumentError("A functional model's config needs `inputs` and `nodes`")
    decoded = decode(dict(config), custom_objects)
    return cls(**decoded)


# -- sequential ---------------------------------------------------------------------------


def sequential_config(model: Any) -> dict[str, Any]:
    """A Sequential model's config: its name, declared input and layers."""
    stack = model.module
    shape = stack.input_shape if stack._declared_input_shape is not None else None
    dtype = stack.input_dtype
    return {
        "name": model.name,
        "input": None
        if shape is None
        else {
            "shape": list(shape),
            "dtype": None if dtype is None else str(dtype).removeprefix("torch."),
        },
        "layers": [layer_entry(layer, key) for key, layer in stack.named_children()],
    }


def sequential_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None
) -> Any:
    from epochal.keras.models import Sequential

    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ArgumentError(f"A Sequential config needs a list of layers. Received: {entries!r}")
    layers: list[Any] = []
    declared = config.get("input")
    if declared is not None:
        if not isinstance(declared, dict):
            raise ArgumentError(f"A Sequential config's input is malformed: {declared!r}")
        layers.append(Input(shape=declared.get("shape"), dtype=declared.get("dtype")))
    layers.extend(layer_from_entry(entry, custom_objects) for entry in entries)
    name = config.get("name")
    return Sequential(layers, name=name if isinstance(name, str) else None)


# -- functional ---------------------------------------------------------------------------


def functional_config(model: Any) -> dict[str, Any]:
    """A functional model's config: inputs, layers, the calls in order, the outputs."""
    index: dict[Node, int] = {}
    inputs = []
    for position, (tensor, key) in enumerate(
        zip(model._input_list, model._input_keys, strict=True)
    ):
        index[tensor._node] = position
        inputs.append(
            {
                "key": key,
                "name": tensor.name,
                "shape": list(tensor.shape),
                "dtype": str(tensor.dtype).removeprefix("torch."),
            }
        )
    layers: list[dict[str, Any]] = []
    layer_index: dict[nn.Module, int] = {}
    nodes: list[dict[str, Any]] = []
    constants: dict[Tensor, str] = model.__dict__.get("_constants", {})

    def tensor_ref(leaf: Any) -> Any:
        if isinstance(leaf, KerasTensor):
            return {"__keras_tensor__": [index[leaf._node], list(leaf._path)]}
        if isinstance(leaf, Tensor):
            return {
                "__constant__": {
                    "key": constants[leaf],
                    "shape": list(leaf.shape),
                    "dtype": str(leaf.dtype).removeprefix("torch."),
                }
            }
        return leaf

    for position, node in enumerate(model._graph_nodes, start=len(inputs)):
        args, kwargs = pytree.tree_map(tensor_ref, (node.args, node.kwargs))
        entry: dict[str, Any] = {
            "kind": node.kind,
            "args": _encode_refs(args),
            "kwargs": _encode_refs(kwargs),
        }
        if node.kind == "module":
            if node.target not in layer_index:
                layer_index[node.target] = len(layers)
                layers.append(layer_entry(node.target, model._display_names[node.target]))
            entry["layer"] = layer_index[node.target]
        elif node.kind == "method":
            entry["target"] = node.target
        else:
            entry["target"] = _function_name(node.target, f"the call {node.target!r}")
        nodes.append(entry)
        index[node] = position
    structure = model._inputs_structure
    input_form = (
        "dict"
        if isinstance(structure, Mapping)
        else "list"
        if isinstance(structure, (list, tuple))
        else "single"
    )
    return {
        "name": model.name,
        "inputs": inputs,
        "input_form": input_form,
        "layers": layers,
        "nodes": nodes,
        "outputs": _encode_refs(pytree.tree_map(tensor_ref, model._outputs_structure)),
    }


def _encode_refs(value: Any) -> Any:
    """`encode`, leaving tensor and constant references as they are."""
    if (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("__keras_tensor__", "__constant__")
    ):
        return value
    if isinstance(value, dict):
        return {k: _encode_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_refs(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_refs(v) for v in value]}
    return encode(value, "a recorded call")


def functional_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None
) -> Any:
    """Rebuilds a functional model by replaying its calls on new inputs."""
    from epochal.keras.functional import Functional

    inputs_cfg = _list(config, "inputs")
    values: list[Any] = []
    for item in inputs_cfg:
        if not isinstance(item, dict):
            raise ArgumentError(f"A saved input entry is malformed: {item!r}")
        shape = item.get("shape")
        if not isinstance(shape, list) or not shape:
            raise ArgumentError(f"A saved input shape is malformed: {shape!r}")
        values.append(Input(batch_shape=shape, dtype=item.get("dtype"), name=item.get("name")))
    layers = [layer_from_entry(entry, custom_objects) for entry in _list(config, "layers")]

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "__keras_tensor__":
                return _tensor_at(values, inner)
            if tag == "__constant__" and isinstance(inner, dict):
                return torch.zeros(_ints(inner.get("shape")), dtype=_dtype(inner.get("dtype")))
            if tag == "__tuple__" and isinstance(inner, list):
                return tuple(resolve(v) for v in inner)
            if tag.startswith("__"):
                return decode(value, custom_objects)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    with preserved_rng():
        for entry in _list(config, "nodes"):
            if not isinstance(entry, dict):
                raise ArgumentError(f"A saved call entry is malformed: {entry!r}")
            args = resolve(entry.get("args", []))
            kwargs = resolve(entry.get("kwargs", {}))
            if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
                raise ArgumentError(f"A saved call's arguments are malformed: {entry!r}")
            values.append(_replay(entry, tuple(args), kwargs, layers, custom_objects))
    outputs = resolve(config.get("outputs"))
    keys = [item.get("key") for item in inputs_cfg]
    form = config.get("input_form")
    inputs: Any = (
        dict(zip(keys, values[: len(keys)], strict=True))
        if form == "dict"
        else values[: len(keys)]
        if form == "list"
        else values[0]
    )
    name = config.get("name")
    return Functional(inputs, outputs, name=name if isinstance(name, str) else None)


def _replay(
    entry: Mapping[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    layers: list[nn.Module],
    custom_objects: Mapping[str, Any] | None,
) -> Any:
    kind = entry.get("kind")
    if kind == "module":
        position = entry.get("layer")
        if not isinstance(position, int) or not 0 <= position < len(layers):
            raise ArgumentError(f"A saved call names no layer: {entry!r}")
        return layers[position](*args, **kwargs)
    target = entry.get("target")
    if kind == "method":
        if (
            not isinstance(target, str)
            or target.startswith("_")
            or not callable(getattr(torch.Tensor, target, None))
        ):
            raise ArgumentError(f"A saved call names an unknown tensor method: {target!r}")
        return getattr(args[0], target)(*args[1:], **kwargs)
    if kind in ("function", "rfunction"):
        function = _function_from_name(target, custom_objects)
        if kind == "rfunction":
            return function(args[1], args[0], **kwargs)
        return function(*args, **kwargs)
    raise ArgumentError(f"A saved call has an unknown kind: {kind!r}")


def _tensor_at(values: list[Any], ref: Any) -> Any:
    if (
        not isinstance(ref, list)
        or len(ref) != 2
        or not isinstance(ref[0], int)
        or not 0 <= ref[0] < len(values)
    ):
        raise ArgumentError(f"A saved tensor reference is malformed: {ref!r}")
    value = values[ref[0]]
    for key in ref[1]:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise ArgumentError(f"A saved tensor reference does not fit its call: {ref!r}") from exc
    if not isinstance(value, KerasTensor):
        raise ArgumentError(f"A saved tensor reference is not a tensor: {ref!r}")
    return value


def _list(config: Mapping[str, Any], key: str) -> list[Any]:
    value = config.get(key)
    if not isinstance(value, list):
        raise ArgumentError(
            f"A functional model's config needs a list `{key}`. Received: {value!r}"
        )
    return value


def _ints(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ArgumentError(f"A saved shape is malformed: {value!r}")
    return value
