"""Reading a PyTorch state dict without torch: safetensors files or in-memory mappings.

A source is a ``.safetensors`` file, a sharded Hugging Face checkpoint (its
``*.safetensors.index.json``), a directory holding either, or a mapping
``{key: array}`` of numpy arrays, JAX arrays or torch tensors (read through
``.detach().cpu().numpy()``, so torch is never imported). Files are read with
``safetensors`` (tensors and strings only: nothing is unpickled or executed), and
only the shapes are read until a tensor is asked for.

Recurrent weights get *virtual keys*: PyTorch names them ``lstm.weight_ih_l0`` (one
module holding every layer and direction); here that is ``lstm.l0.weight_ih`` (and
``lstm.l0_reverse.weight_ih``), so each layer and direction is a module prefix of
its own, which the matching can assign to one axon layer. Reports show the original
keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import ml_dtypes  # noqa: F401  registers bfloat16 and float8 with numpy, for safetensors' reader
import numpy as np
import safetensors

from .parameters import SerializationError

#: ``<module>.weight_ih_l<k>[_reverse]`` -> ``<module>.l<k>[_reverse].weight_ih``
_RECURRENT_KEY = re.compile(
    r"^(?P<module>(?:.*\.)?)(?P<kind>(?:weight|bias)_(?:ih|hh|hr))_(?P<layer>l\d+(?:_reverse)?)$"
)
_VIRTUAL_KEY = re.compile(
    r"^(?P<module>(?:.*\.)?)(?P<layer>l\d+(?:_reverse)?)\.(?P<kind>(?:weight|bias)_(?:ih|hh|hr))$"
)
_INDEX_SUFFIX = ".safetensors.index.json"


@dataclass(frozen=True)
class TorchTensor:
    """One tensor of a state dict: its original key and shape, and how to read its values."""

    key: str
    shape: tuple[int, ...]
    read: Callable[[], np.ndarray]


class TorchTensors(Mapping[str, TorchTensor]):
    """A state dict's tensors by virtual key (see the module docs), and where they came from."""

    def __init__(self, tensors: dict[str, TorchTensor], source: str):
        self._tensors = tensors
        self.source = source

    def __getitem__(self, key: str) -> TorchTensor:
        return self._tensors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)


def virtual_key(key: str) -> str:
    """The key under which the matching sees ``key`` (recurrent weights get a module per layer).

    >>> virtual_key("encoder.lstm.weight_hh_l1_reverse"), virtual_key("fc.weight")
    ('encoder.lstm.l1_reverse.weight_hh', 'fc.weight')
    """
    return _renamed(_RECURRENT_KEY, key, "{module}{layer}.{kind}")


def torch_key(key: str) -> str:
    """The PyTorch name of a virtual key (the inverse of :func:`virtual_key`).

    >>> torch_key("lstm.l0.bias_hh"), torch_key("fc.bias")
    ('lstm.bias_hh_l0', 'fc.bias')
    """
    return _renamed(_VIRTUAL_KEY, key, "{module}{kind}_{layer}")


def _renamed(pattern: re.Pattern[str], key: str, template: str) -> str:
    found = pattern.match(key)
    return key if found is None else template.format(**found.groupdict())


def read_tensors(source: Any) -> TorchTensors:
    """The tensors of ``source`` (a path or a mapping; see the module docs), values unread."""
    if isinstance(source, Mapping):
        return _collect(_in_memory(source), "(in memory)")
    if isinstance(source, str | os.PathLike):
        files = _safetensors_files(os.fspath(source))
        tensors: list[TorchTensor] = []
        for path in files:
            tensors.extend(_in_file(path))
        return _collect(tensors, repr(os.fspath(source)), stored=True)
    raise TypeError(
        f"from_torch_state_dict takes a path to a .safetensors file (or a Hugging Face "
        f"checkpoint directory) or a state dict {{key: array or tensor}}; got "
        f"{type(source).__name__}. A .bin/.pt checkpoint is a pickle, which axon never loads: "
        f"convert it once with safetensors.torch.save_file(torch.load(...), path)."
    )


def _collect(tensors: list[TorchTensor], source: str, *, stored: bool = False) -> TorchTensors:
    """By virtual key. A file stores its keys sorted by name, which loses the state dict's
    order: ``stored`` files are put in natural order (``2`` before ``10``), which is the
    order of an ``nn.Sequential``; an in-memory dict keeps its own."""
    if stored:
        tensors = sorted(tensors, key=lambda t: _natural(t.key))
    by_key: dict[str, TorchTensor] = {}
    for tensor in tensors:
        by_key[virtual_key(tensor.key)] = tensor
    return TorchTensors(by_key, source)


def _natural(key: str) -> list[tuple[int, Any]]:
    """A sort key comparing the digit runs of ``key`` as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key)]


def _in_memory(state_dict: Mapping[Any, Any]) -> list[TorchTensor]:
    tensors = []
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"State dict keys must be strings; got {key!r}.")
        if not hasattr(value, "shape"):
            raise TypeError(
                f"State dict entry {key!r} is a {type(value).__name__}, not an array or tensor."
            )
        tensors.append(TorchTensor(key, tuple(value.shape), _reader(value)))
    return tensors


def _reader(value: Any) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        if hasattr(value, "detach"):  # a torch tensor, duck-typed: torch is never imported
            tensor = value.detach().cpu()
            if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
                tensor = tensor.float()
            return np.asarray(tensor.numpy())
        return np.asarray(value)

    return read


def _safetensors_files(path: str) -> list[str]:
    """The files of a checkpoint: one file, the shards an index names, or a directory's."""
    if os.path.isdir(path):
        for name in ("model.safetensors", "model" + _INDEX_SUFFIX):
            if os.path.exists(os.path.join(path, name)):
                return _safetensors_files(os.path.join(path, name))
        raise SerializationError(
            f"Directory {path!r} holds no model.safetensors or model{_INDEX_SUFFIX}; pass the "
            f"path of the .safetensors file to load."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such checkpoint: {path!r}.")
    if not path.endswith(_INDEX_SUFFIX):
        return [path]
    try:
        with open(path, encoding="utf-8") as file:
            weight_map = json.load(file)["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SerializationError(
            f"{path!r} is not a safetensors index (a JSON object with a 'weight_map'): {error}"
        ) from error
    folder = os.path.dirname(path)
    return [os.path.join(folder, name) for name in dict.fromkeys(weight_map.values())]


def _in_file(path: str) -> list[TorchTensor]:
    try:
        with safetensors.safe_open(path, framework="numpy") as file:
            keys = file.keys()  # safe_open is not iterable
            shapes = {key: tuple(file.get_slice(key).get_shape()) for key in keys}
    except Exception as error:  # safetensors raises its own error types
        raise SerializationError(
            f"{path!r} is not a readable safetensors file (truncated, corrupted, or a pickle "
            f"checkpoint renamed?): {error}"
        ) from error
    return [TorchTensor(key, shape, _file_reader(path, key)) for key, shape in shapes.items()]


def _file_reader(path: str, key: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        with safetensors.safe_open(path, framework="numpy") as file:
            return file.get_tensor(key)

    return read
