"""Results as arrays and JSON, never code: the stored form of the result cache's entries.

A result (a view's frozen dataclass of numpy arrays, numbers, strings, tuples, dicts and nested
dataclasses such as its spec) is stored as one `.npz` archive: its arrays as `a0, a1, ...`, and a
typed JSON manifest (`manifest`) that says where each one goes. Loading it runs no code of the
file's choosing, unlike a pickle: `numpy.load(..., allow_pickle=False)` reads plain arrays, the
manifest is JSON, and the only classes it may name are dataclasses (and tuple types) of this
engine's own modules, which `decode` builds from their fields. Anything else (a planted pickle, an
object array, a class from elsewhere, a manifest that does not fit) raises `ValueError`, which the
cache treats as damage: the entry is dropped and computed again.

    >>> import numpy as np
    >>> from engine.experiments.universality import DepthSpec
    >>> blob = encode({"spec": DepthSpec(), "x": np.arange(3.0), "t": (1, -0.5, None)})
    >>> decoded = decode(blob)
    >>> decoded["spec"] == DepthSpec(), decoded["x"].tolist(), decoded["t"]
    (True, [0.0, 1.0, 2.0], (1, -0.5, None))
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
from typing import Any

import numpy as np

MODULES = "engine."
"""The only modules whose classes a manifest may name."""


def encode(value: Any) -> bytes:
    """`value` as an `.npz` archive of its arrays and a JSON manifest; `TypeError` for what cannot
    be stored without code (an object array, a function, a class from outside `engine`)."""
    arrays: list[np.ndarray] = []
    manifest = json.dumps(_encode(value, arrays), separators=(",", ":"), allow_nan=False)
    buffer = io.BytesIO()
    np.savez(buffer, manifest=np.frombuffer(manifest.encode(), dtype=np.uint8),
             **{f"a{i}": array for i, array in enumerate(arrays)})
    return buffer.getvalue()


def decode(blob: bytes) -> Any:
    """What `encode` stored; `ValueError` when the bytes are not such an archive or name anything
    but this engine's dataclasses."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            manifest = json.loads(archive["manifest"].tobytes().decode())
            arrays = {name: archive[name] for name in archive.files if name != "manifest"}
    except Exception as error:
        raise ValueError(f"not a stored result ({type(error).__name__}: {error})") from None
    return _decode(manifest, arrays)


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encode(value: Any, arrays: list) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"dataclass": _name(_own(type(value))),
                "fields": {f.name: _encode(getattr(value, f.name), arrays)
                           for f in dataclasses.fields(value)}}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an object array cannot be stored without pickle")
        arrays.append(value)
        return {"array": f"a{len(arrays) - 1}"}
    if isinstance(value, np.generic):
        return {"scalar": value.dtype.str, "value": _encode(value.item(), arrays)}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        kind = None if type(value) is tuple else _name(_own(type(value)))
        return {"tuple": [_encode(v, arrays) for v in value], "type": kind}
    if isinstance(value, list):
        return {"list": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"a {type(value).__name__} cannot be stored in the result cache")


def _own(cls: type) -> type:
    if not cls.__module__.startswith(MODULES):
        raise TypeError(f"{_name(cls)} is not one of the engine's types")
    return cls


def _class(name: Any, *, tuple_type: bool = False) -> type:
    """The class `module:qualname` names, if it is one of the engine's dataclasses (or, with
    `tuple_type`, tuple types); `ValueError` otherwise. Importing an engine module runs only the
    engine's own code."""
    if not isinstance(name, str) or ":" not in name or not name.startswith(MODULES):
        raise ValueError(f"the manifest names {name!r}, not one of the engine's types")
    module, qualname = name.split(":", 1)
    try:
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise ValueError(f"the manifest names {name!r}, which the engine does not have") from None
    fits = (isinstance(cls, type) and issubclass(cls, tuple) if tuple_type
            else isinstance(cls, type) and dataclasses.is_dataclass(cls))
    if not fits:
        raise ValueError(f"the manifest names {name!r}, which is not a stored result's type")
    return cls


def _decode(node: Any, arrays: dict) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict):
        raise ValueError("the manifest does not describe a stored result")
    try:
        if "dataclass" in node:
            cls = _class(node["dataclass"])
            fields = {f.name for f in dataclasses.fields(cls)}
            given = node["fields"]
            if set(given) != fields:
                raise ValueError(f"{node['dataclass']} has fields {sorted(fields)}, the entry "
                                 f"{sorted(given)}")
            return cls(**{k: _decode(v, arrays) for k, v in given.items()})
        if "array" in node:
            return arrays[node["array"]]
        if "scalar" in node:
            dtype = np.dtype(node["scalar"])
            if dtype.hasobject:
                raise ValueError("the manifest names an object scalar")
            return dtype.type(_decode(node["value"], arrays))
        if "float" in node:
            return float(node["float"])
        if "tuple" in node:
            items = tuple(_decode(v, arrays) for v in node["tuple"])
            return items if node["type"] is None else _class(node["type"], tuple_type=True)(items)
        if "list" in node:
            return [_decode(v, arrays) for v in node["list"]]
        if "dict" in node:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in node["dict"]}
    except (KeyError, TypeError) as error:
        raise ValueError(f"the manifest does not describe a stored result ({error})") from None
    raise ValueError("the manifest does not describe a stored result")
