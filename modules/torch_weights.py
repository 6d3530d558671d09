"""Reads a legacy (non-zip) PyTorch weights file into numpy arrays, without torch and safely.

The legacy format is a sequence of pickles (magic number, protocol, system info, the state dict
whose tensors point at storages by persistent id, the storage keys) followed by each storage's
raw little-endian data. Unpickling an arbitrary file can run arbitrary code, so the unpickler
below resolves only the few globals a state dict needs and refuses every other one.
"""
from __future__ import annotations

import collections
import hashlib
import os
import pickle
import struct

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class WeightsFileError(ValueError):
    """A weights file that is not what it should be: wrong hash, format or content."""


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_state_dict(path: str | os.PathLike, expected_sha256: str | None = None) -> dict:
    """{parameter name: numpy array} of a legacy torch state-dict file."""
    if expected_sha256 and sha256(path) != expected_sha256:
        raise WeightsFileError(f"{path}: sha256 {sha256(path)} is not the expected {expected_sha256}")
    storages: dict = {}
    with open(path, "rb") as f:
        if _Unpickler(f, storages).load() != LEGACY_MAGIC:
            raise WeightsFileError(f"{path}: not a legacy PyTorch file (a zip-format file needs torch.load)")
        _Unpickler(f, storages).load()  # protocol version
        _Unpickler(f, storages).load()  # system info (endianness, type sizes)
        state = _Unpickler(f, storages).load()
        for key in _Unpickler(f, storages).load():
            (count,) = struct.unpack("<q", f.read(8))
            storage = storages[key]
            data = f.read(count * np.dtype(storage.dtype).itemsize)
            storage.array = np.frombuffer(data, dtype=storage.dtype)
    return {name: value.to_numpy() if isinstance(value, _TensorRef) else value for name, value in state.items()}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    def __init__(self, dtype):
        self.dtype, self.array = dtype, None


class _TensorRef:
    """A tensor before its storage's bytes are read (they come after the state dict)."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        item = self.storage.array.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.array[self.offset:], self.size, tuple(s * item for s in self.stride)).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a weights file")

    def persistent_load(self, pid):
        _, storage_type, key, _location, _count = pid[:5]
        return self._storages.setdefault(key, _Storage(storage_type.dtype))
