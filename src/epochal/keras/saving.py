"""``keras.saving``: ``.keras`` files, JSON architectures and the registry of custom classes.

A ``.keras`` file is a zip archive (never pickle) holding:

- ``metadata.json``: the format and versions;
- ``config.json``: the architecture (see `epochal.keras._serialize`), so
  `load_model` rebuilds Sequential and functional models of epochal.keras
  layers without their code; custom layers come from ``custom_objects`` or
  `register_keras_serializable`;
- ``model.weights.safetensors``: every parameter and buffer;
- ``compile.json``: the ``compile`` arguments, when they are names or Keras
  objects with configs (optimizers, losses, metrics);
- ``run/``: when the model was compiled, its run as an epochal checkpoint
  (optimizer, RNG, history, callback states; see `epochal.checkpoint`), so a
  loaded model's ``fit`` continues bit for bit where the saved one stopped.

Reading is bounded (member count and sizes, JSON nesting) and a damaged or
foreign file raises `CheckpointError`.

Example:
    >>> model.save("model.keras")
    >>> restored = keras.saving.load_model("model.keras")
    >>> restored.fit(x, y, epochs=5)  # continues the run
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from epochal import model as native_model
from epochal.checkpoint import save_checkpoint
from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError
from epochal.keras._face import adopt, keras_compile_args
from epochal.keras._serialize import (
    custom_object_scope,
    decode,
    encode,
    get_registered_name,
    get_registered_object,
    layer_entry,
    layer_from_entry,
    model_entry,
    model_from_entry,
    register_keras_serializable,
)

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights_from_archive",
    "model_from_json",
    "register_keras_serializable",
    "save_model",
    "serialize_keras_object",
    "to_json",
]

FORMAT = "epochal.keras"
FORMAT_VERSION = 1
_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.safetensors"
_COMPILE = "compile.json"
_RUN = "run/"
# Bounds on what a load reads: a foreign or damaged archive fails fast.
MAX_MEMBERS = 4096
MAX_JSON_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 200
MAX_MEMBER_BYTES = 64 * 2**30
MAX_COMPRESSION_RATIO = 1000

CustomObjectScope = custom_object_scope


# -- saving -----------------------------------------------------------------------------


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Saves ``model`` as a ``.keras`` archive (or, for another path, a checkpoint directory).

    Args:
        model: an ``epochal.keras.Model`` (Sequential, functional or a subclass).
        filepath: ``"name.keras"`` for an archive; any other path (not ``.h5``)
            gets epochal's checkpoint directory of the run (see `epochal.Model.save`).
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        ArgumentTypeError: ``model`` is not an epochal.keras model.
        ArgumentError: an ``.h5`` path, an existing file with ``overwrite=False``, or a
            layer whose config cannot be saved (named in the message).
    """
    from epochal.keras.models import Model

    if not isinstance(model, Model):
        raise ArgumentTypeError(
            f"save_model: expected an epochal.keras Model. Received: {type(model).__name__}"
        )
    if not isinstance(filepath, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"save: expected `filepath` to be a path. Received: filepath={filepath!r}"
        )
    path = Path(filepath)
    if path.suffix in (".h5", ".hdf5"):
        raise ArgumentError(
            f"save: HDF5 files are not available in epochal.keras. Received: filepath={str(path)!r}. "
            "Save to a '.keras' file instead"
        )
    if not overwrite and path.exists():
        raise ArgumentError(f"save: {str(path)!r} exists and overwrite=False")
    if path.suffix != ".keras":
        return model._face().save(path)
    # Everything that can fail on the model fails here, before a byte is written.
    config = json.dumps(_top_entry(model))
    weights = save_safetensors(
        {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    )
    trainer = model.__dict__.get("_native")
    compile_config = _compile_config(model)
    with tempfile.TemporaryDirectory() as scratch:
        run_files: list[Path] = []
        if trainer is not None and trainer._compiled is not None:
            run_dir = Path(scratch) / "run"
            owner = trainer._trainer
            if owner is not None and owner._saves is not None:
                # Inside fit (a ModelCheckpoint to "x.keras"): the run as it stands
                # now, with its live random state, so the archive loads compiled.
                run_weights, state, meta = owner.capture(live_rng=True, phase="epoch")
                save_checkpoint(run_dir, weights=run_weights, state=state, meta=meta)
            else:
                trainer.save(run_dir)
            run_files = sorted(p for p in run_dir.rglob("*") if p.is_file())
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, json.dumps(_metadata(compiled=bool(run_files))))
            archive.writestr(_CONFIG, config)
            archive.writestr(_WEIGHTS, weights)
            if run_files and compile_config is not None:
                archive.writestr(_COMPILE, json.dumps(compile_config))
            for file in run_files:
                archive.write(file, _RUN + file.relative_to(Path(scratch) / "run").as_posix())
        os.replace(partial, path)
    return path


_COMPILE_NAMES = ("optimizer", "loss", "metrics")


def _compile_config(model: Any) -> dict[str, Any] | None:
    """The model's ``compile`` arguments as JSON-able data, or None when one cannot be saved.

    Optimizers, losses and metrics given as Keras objects (``keras.optimizers.Adam(...)``)
    are saved by their configs, so the loaded model compiles the same way and its run resumes.
    """
    stored = model.__dict__.get("_compile_args")
    if stored is None:
        return None
    args, kwargs = stored
    if len(args) > len(_COMPILE_NAMES):
        return None
    named = dict(zip(_COMPILE_NAMES, args, strict=False)) | dict(kwargs)
    if named.get("seed") is None:
        named.pop("seed", None)  # the run's seed comes from the checkpoint
    try:
        return {key: encode(value, f"compile({key}=...)") for key, value in named.items()}
    except ArgumentError:
        return None  # a callable or an object without a config: the run loads by names only


def _metadata(*, compiled: bool) -> dict[str, Any]:
    from epochal import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "epochal_version": __version__,
        "torch_version": torch.__version__,
        "has_run": compiled,
    }


def _top_entry(model: Any) -> dict[str, Any]:
    return model_entry(model)


def to_json(model: Any, **kwargs: Any) -> str:
    """The architecture of ``model`` as a JSON string (``json.dumps`` keyword arguments pass on)."""
    return json.dumps(_top_entry(model), **kwargs)


def model_from_json(json_string: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    """A new model (fresh weights) from `to_json`'s string.

    Raises:
        ArgumentError: not valid JSON, too deeply nested, or not a model's architecture.
    """
    if not isinstance(json_string, (str, bytes)):
        raise ArgumentTypeError(
            f"model_from_json: expected a JSON string. Received: {type(json_string).__name__}"
        )
    _check_custom_objects(custom_objects)
    entry = _parse_json(json_string, "model_from_json", ArgumentError)
    if not isinstance(entry, dict):
        raise ArgumentError("model_from_json: expected a JSON object describing a model")
    with custom_object_scope(custom_objects):
        return model_from_entry(entry, custom_objects)


def serialize_keras_object(obj: Any) -> dict[str, Any]:
    """A layer or model as ``{"class_name", "registered_name", "config"}``."""
    from epochal.keras.models import Model

    if isinstance(obj, Model):
        return model_entry(obj)
    return layer_entry(obj, None)


def deserialize_keras_object(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Any:
    """The layer or model `serialize_keras_object` described (fresh weights)."""
    _check_custom_objects(custom_objects)
    with custom_object_scope(custom_objects):
        return layer_from_entry(dict(config), custom_objects)


# -- loading ------------------------------------------------------------------------------


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """The model saved in a ``.keras`` file: architecture, weights and (``compile=True``) its run.

    Args:
        filepath: a ``.keras`` file written by ``model.save``.
        custom_objects: custom layer classes (and functions) by name.
        compile: restore the compile settings and the run, so ``fit`` continues it.
        safe_mode: accepted for Keras compatibility: loading never runs pickled code.

    Returns:
        An ``epochal.keras.Model``.

    Raises:
        CheckpointError: no such file, not an epochal ``.keras`` archive, damaged, too
            large, or an architecture that cannot be rebuilt (the message says why).
    """
    if not isinstance(filepath, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"load_model: expected `filepath` to be a path. Received: filepath={filepath!r}"
        )
    _check_custom_objects(custom_objects)
    path = Path(filepath)
    if path.is_dir():
        raise CheckpointError(
            f"load_model: {str(path)!r} is a directory (an epochal checkpoint holds weights and "
            "the run, not the architecture). Build the model and call model.load_weights(path), "
            "or save to a '.keras' file"
        )
    with _open(path) as archive:
        metadata = _read_json(archive, _METADATA)
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not an epochal.keras archive (no {FORMAT} metadata)")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path} has format version {metadata.get('format_version')!r}; this epochal "
                f"reads version {FORMAT_VERSION}"
            )
        entry = _read_json(archive, _CONFIG)
        weights = _read_weights(archive, path)
        run_members = [n for n in archive.namelist() if n.startswith(_RUN) and not n.endswith("/")]
        try:
            with custom_object_scope(custom_objects):
                if not isinstance(entry, dict):
                    raise ArgumentError("the architecture is not a JSON object")
                model = model_from_entry(entry, custom_objects)
        except (ArgumentError, ArgumentTypeError) as exc:
            raise CheckpointError(f"{path}: the architecture cannot be rebuilt: {exc}") from exc
        _load_state(model, weights, path)
        if compile and run_members:
            with tempfile.TemporaryDirectory() as scratch:
                for name in run_members:
                    target = Path(scratch) / "run" / PurePosixPath(name[len(_RUN) :])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(_read_member(archive, name))
                compile_kwargs = _read_compile(archive, custom_objects)
                _, ordered = keras_compile_args((), compile_kwargs)  # the Keras face's order
                trainer = native_model.Model.load(Path(scratch) / "run", module=model, **ordered)
            model.__dict__["_native"] = adopt(trainer, model)
            if compile_kwargs:
                model.__dict__["_compile_args"] = ((), compile_kwargs)
    return model


def _read_compile(
    archive: zipfile.ZipFile, custom_objects: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The saved ``compile`` arguments ({} when the archive has none)."""
    if _COMPILE not in archive.namelist():
        return {}
    saved = _read_json(archive, _COMPILE)
    if not isinstance(saved, dict):
        raise CheckpointError(f"{archive.filename}: {_COMPILE!r} is not a JSON object")
    try:
        with custom_object_scope(custom_objects):
            return {str(k): decode(v, custom_objects) for k, v in saved.items()}
    except (ArgumentError, ArgumentTypeError) as exc:
        # As Keras: the model still loads; compile settings given by name come back alone.
        warnings.warn(
            f"{archive.filename}: the compile settings cannot be rebuilt ({exc}); loading "
            "without them. Pass the missing classes in custom_objects to restore them",
            RuntimeWarning,
            stacklevel=3,
        )
        return {}


def load_weights_from_archive(model: Any, filepath: str | os.PathLike[str]) -> None:
    """Loads the weights of a ``.keras`` file into ``model`` (same architecture).

    Raises:
        CheckpointError: the file is not an intact archive, or its weights do not fit.
    """
    path = Path(filepath)
    with _open(path) as archive:
        weights = _read_weights(archive, path)
    _load_state(model, weights, path)


def _load_state(model: Any, weights: dict[str, torch.Tensor], path: Path) -> None:
    from epochal._ckpt_run import tensor_mismatch

    # Checked first: torch copies the tensors that fit before raising on the rest.
    current = model.state_dict()
    problem = tensor_mismatch(weights, current) if current else None  # empty: built by the load
    if problem is not None:
        raise CheckpointError(f"The weights in {path} do not fit the model: the file {problem}")
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"The weights in {path} do not fit the model: {exc}") from exc


def _open(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise CheckpointError(f"No .keras file at {str(path)!r}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{path} is not a .keras archive (not a zip file): {exc}") from exc
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise CheckpointError(f"{path} has {len(infos)} members; at most {MAX_MEMBERS} are read")
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or ":" in name:
            archive.close()
            raise CheckpointError(f"{path} holds a member with an unsafe name: {name!r}")
    return archive


def _read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CheckpointError(
            f"{archive.filename} has no {name!r}: not a complete .keras archive"
        ) from None
    if info.file_size > limit:
        raise CheckpointError(
            f"{archive.filename}: {name!r} is {info.file_size} bytes; at most {limit} are read"
        )
    if info.compress_size and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 2**20:
        raise CheckpointError(f"{archive.filename}: {name!r} is compressed suspiciously well")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{archive.filename}: {name!r} is damaged: {exc}") from exc
    if len(data) > limit:
        raise CheckpointError(f"{archive.filename}: {name!r} is larger than {limit} bytes")
    return data


def _read_json(archive: zipfile.ZipFile, name: str) -> Any:
    data = _read_member(archive, name, MAX_JSON_BYTES)
    return _parse_json(data, f"{archive.filename}: {name!r}", CheckpointError)


def _parse_json(data: str | bytes, where: str, error: type[Exception]) -> Any:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    depth = _nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{where}: JSON nested {depth} deep; at most {MAX_JSON_DEPTH} levels are read")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise error(f"{where}: not valid JSON: {exc}") from exc


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _read_weights(archive: zipfile.ZipFile, path: Path) -> dict[str, torch.Tensor]:
    data = _read_member(archive, _WEIGHTS)
    try:
        return load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error types on damaged data
        raise CheckpointError(f"{path}: the weights are damaged: {exc}") from exc


def _check_custom_objects(custom_objects: Any) -> None:
    if custom_objects is not None and not isinstance(custom_objects, Mapping):
        raise ArgumentTypeError(
            "expected `custom_objects` to be a dict name -> class or function. "
            f"Received: {type(custom_objects).__name__}"
        )
