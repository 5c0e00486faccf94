"""An NWB-Zarr store (``.nwb.zarr``, as written by hdmf-zarr) seen through the small part of the h5py API
the NWB readers use: groups, datasets, attributes, links and object references.

hdmf-zarr lays NWB out as HDF5 does, with these differences, all absorbed here:

- a scalar dataset is a one-element array whose ``zarr_dtype`` attribute is ``"scalar"``;
- text is stored as variable-length UTF-8 or bytes (``zarr_dtype`` ``"str"``, ``"bytes"`` or ``"scalar"``);
- links are listed in a group's ``zarr_link`` attribute (``source`` ``"."`` is the store itself);
- an object reference is a ``{"source", "path", ...}`` mapping: as an attribute value it is wrapped in
  ``{"zarr_dtype": "object", "value": ...}``; datasets of references (and compound datasets with text or
  reference fields) are encoded with numcodecs' Pickle codec.

Unpickling untrusted bytes can run code, so pickled chunks are decoded by :func:`safe_unpickle`, which
rebuilds NumPy arrays, plain values and hdmf-zarr references and refuses every other object.

Only this module imports zarr, and only when a store is opened.
"""

from __future__ import annotations

import io
import pickle
import posixpath
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: attributes hdmf-zarr uses for its own bookkeeping (never NWB attributes)
ZARR_ATTRS = frozenset({"zarr_dtype", "zarr_link", "_ARRAY_DIMENSIONS"})
TEXT_DTYPES = frozenset({"str", "bytes", "utf", "utf8", "utf-8", "ascii", "text", "isodatetime"})


@dataclass(frozen=True)
class ZarrRef:
    """An hdmf-zarr object reference: the target's path in the store named by ``source`` (``"."``: this one)."""

    source: str | None
    path: str

    def __bool__(self) -> bool:
        return bool(self.path)


@dataclass(frozen=True)
class ZarrLink:
    """A link listed in a group's ``zarr_link`` attribute (like h5py's SoftLink / ExternalLink)."""

    source: str | None
    path: str

    @property
    def external(self) -> bool:
        """Whether the target is in another store."""
        return self.source not in (None, ".", "")

    @property
    def filename(self) -> str:
        return self.source or "."


class _PickledReference(dict[str, Any]):
    """Stand-in for ``hdmf_zarr.utils.ZarrReference`` (a dict) while unpickling."""


_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("hdmf_zarr.utils", "ZarrReference"): _PickledReference,
}


class DamagedChunkError(ValueError):
    """A chunk whose bytes do not hold what its codec's framing says (e.g. a truncated Blosc chunk)."""


#: Bytes of a Blosc (version 1 format) chunk header; bytes 12-16 hold the whole chunk's size.
_BLOSC_HEADER = 16


class _CheckedBlosc:
    """A Blosc codec that checks each chunk's framing before the C decoder reads it.

    A truncated Blosc chunk makes the decoder read past the end of its buffer (undefined behaviour: a
    wrong result or a crashed process), so its stored length is checked against its header first.
    """

    def __init__(self, codec: Any) -> None:
        self._codec = codec
        self.codec_id = getattr(codec, "codec_id", "blosc")

    def decode(self, buf: Any, out: Any = None) -> Any:
        data = memoryview(buf).cast("B")
        if data.nbytes < _BLOSC_HEADER:
            raise DamagedChunkError(f"a Blosc chunk of {data.nbytes} bytes is shorter than its header")
        size = int.from_bytes(bytes(data[12:16]), "little")
        if size != data.nbytes:
            raise DamagedChunkError(f"a Blosc chunk holds {data.nbytes} bytes but its header says {size} "
                                    "(truncated or damaged)")
        return self._codec.decode(buf, out)

    def encode(self, buf: Any) -> Any:
        return self._codec.encode(buf)

    def get_config(self) -> Any:
        return self._codec.get_config()


def _checked(array: Any) -> Any:
    """``array`` with its Blosc compressor replaced by :class:`_CheckedBlosc` (read-only arrays only)."""
    compressor = getattr(array, "_compressor", None)
    if getattr(compressor, "codec_id", None) == "blosc" and not isinstance(compressor, _CheckedBlosc):
        array._compressor = _CheckedBlosc(compressor)
    return array


class UnsafePickleError(ValueError):
    """A pickled chunk asked for an object other than arrays, plain values and references."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise UnsafePickleError(f"refused to unpickle {module}.{name} (only arrays and references are read)")
        if found == "reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        return found


def safe_unpickle(data: bytes) -> Any:
    """Unpickle ``data`` allowing only NumPy arrays, plain values and hdmf-zarr references.

    Raises
    ------
    UnsafePickleError
        When the pickle names any other class or function.
    """
    return _RestrictedUnpickler(io.BytesIO(data)).load()


def _as_reference(value: Any) -> Any:
    if isinstance(value, Mapping) and "path" in value and ("source" in value or "object_id" in value):
        return ZarrRef(source=value.get("source"), path=str(value["path"]))
    return value


def _attribute(value: Any) -> Any:
    """An attribute value as h5py would give it: references as :class:`ZarrRef`, lists as arrays."""
    if isinstance(value, Mapping) and "zarr_dtype" in value:
        inner = value.get("value")
        if value["zarr_dtype"] == "object":
            return _as_reference(inner)
        return inner
    if isinstance(value, list):
        items = [_attribute(v) for v in value]
        return np.asarray(items, dtype=object if any(isinstance(v, (str, ZarrRef)) for v in items) else None)
    return value


class _Node:
    def __init__(self, obj: Any, file: ZarrFile, name: str) -> None:
        self._obj = obj
        self.file = file
        self.name = name

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _attribute(v) for k, v in self._obj.attrs.asdict().items() if k not in ZARR_ATTRS}

    def _zarr_attr(self, key: str) -> Any:
        return self._obj.attrs.get(key)


class ZarrDataset(_Node):
    """A Zarr array seen as an HDF5 dataset (scalars have shape ``()``, text reads as ``str``)."""

    @property
    def _zarr_dtype(self) -> Any:
        return self._zarr_attr("zarr_dtype")

    @property
    def is_scalar(self) -> bool:
        return self._zarr_dtype == "scalar" and tuple(self._obj.shape) == (1,)

    @property
    def shape(self) -> tuple[int, ...]:
        return () if self.is_scalar else tuple(int(s) for s in self._obj.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self._obj.dtype)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("a scalar dataset has no length")
        return self.shape[0]

    @property
    def _pickled(self) -> bool:
        return any(getattr(f, "codec_id", None) == "pickle" for f in (self._obj.filters or ()))

    @property
    def holds_text(self) -> bool:
        """Whether the values are strings (or bytes)."""
        zarr_dtype = self._zarr_dtype
        if self.dtype.kind in "SU":
            return True
        if self.dtype != np.dtype(object) or self.holds_references or isinstance(zarr_dtype, list):
            return False
        if zarr_dtype in TEXT_DTYPES:
            return True
        return zarr_dtype in ("scalar", None) and not self._pickled  # an unpickled object scalar is text

    @property
    def holds_references(self) -> bool:
        """Whether the values are object references."""
        return self._zarr_dtype == "object" or (isinstance(self._zarr_dtype, str)
                                               and self._zarr_dtype.startswith("region"))

    @property
    def compound_has_references(self) -> bool:
        dtype = self._zarr_dtype
        return isinstance(dtype, list) and any(isinstance(f, Mapping) and f.get("dtype") == "object"
                                               for f in dtype)

    def _read_pickled(self) -> np.ndarray:
        """Every value of an array encoded with the Pickle codec, decoded by :func:`safe_unpickle`."""
        array = self._obj
        shape = tuple(int(s) for s in array.shape)
        chunks = tuple(int(c) for c in array.chunks)
        out = np.empty(shape, dtype=array.dtype)
        separator = getattr(array, "_dimension_separator", None) or "."
        grid = [range(-(-s // c)) for s, c in zip(shape, chunks, strict=True)]
        for index in np.ndindex(*(len(g) for g in grid)):
            key = array._key_prefix + separator.join(str(i) for i in index)
            try:
                raw = array.chunk_store[key]
            except KeyError:
                continue  # a chunk never written holds the fill value
            data: Any = array.compressor.decode(raw) if array.compressor is not None else raw
            for codec in reversed(array.filters or ()):
                data = safe_unpickle(bytes(data)) if codec.codec_id == "pickle" else codec.decode(data)
            block = np.asarray(data, dtype=array.dtype).reshape(chunks)
            where = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape, strict=True))
            out[where] = block[tuple(slice(0, w.stop - w.start) for w in where)]
        if self.holds_references:
            flat = out.ravel()
            for i, value in enumerate(flat):
                flat[i] = _as_reference(value)
        return out

    def __getitem__(self, key: Any) -> Any:
        whole = key == () or key is Ellipsis
        if self._pickled:  # decoded whole: these are small (references, compound rows)
            values = self._read_pickled()
            values = values if whole else values[key]
        else:
            values = self._obj[...] if whole else self._obj[key]
        if self.is_scalar and whole:
            return np.asarray(values).reshape(-1)[0]
        return values

    def asstr(self, errors: str = "strict") -> _TextView:
        """The dataset read as ``str`` values (bytes decoded as UTF-8), like h5py's ``asstr``."""
        return _TextView(self, errors)


class _TextView:
    def __init__(self, dataset: ZarrDataset, errors: str) -> None:
        self._dataset, self._errors = dataset, errors

    def _text(self, value: Any) -> Any:
        if isinstance(value, (bytes, np.bytes_)):
            return bytes(value).decode("utf-8", errors=self._errors)
        return value if value is None or isinstance(value, str) else str(value)

    def __getitem__(self, key: Any) -> Any:
        values = self._dataset[key]
        if isinstance(values, np.ndarray):
            out = np.empty(values.shape, dtype=object)
            for index, value in np.ndenumerate(values):
                out[index] = self._text(value)
            return out
        return self._text(values)


class ZarrGroup(_Node):
    """A Zarr group seen as an HDF5 group; members include the links of its ``zarr_link`` attribute."""

    def _links(self) -> dict[str, ZarrLink]:
        links = self._zarr_attr("zarr_link") or []
        return {str(link["name"]): ZarrLink(source=link.get("source"), path=str(link.get("path", "")))
                for link in links if isinstance(link, Mapping) and "name" in link}

    def _child_path(self, name: str) -> str:
        return posixpath.normpath(name if name.startswith("/") else posixpath.join(self.name, name))

    def get(self, name: str, default: Any = None, getlink: bool = False) -> Any:
        """Member ``name`` (a path relative to this group or absolute), following links unless ``getlink``."""
        path = self._child_path(name)
        if path != self.name and posixpath.dirname(path) != self.name:  # a deeper path: walk it
            parent = self.file.get(posixpath.dirname(path))
            return parent.get(posixpath.basename(path), default, getlink) if isinstance(parent, ZarrGroup) else default
        if path == "/":
            return self.file
        base = posixpath.basename(path)
        link = self._links().get(base)
        if link is not None:
            if getlink:
                return link
            if link.external:
                return default
            return self.file.get(link.path, default)
        node = self.file._open_member(path)
        if node is None:
            return default
        return ("hard", node) if getlink else node

    def __getitem__(self, name: str) -> Any:
        node = self.get(name)
        if node is None:
            raise KeyError(f"{name!r} is not in {self.name}")
        return node

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name, getlink=True) is not None

    def keys(self) -> list[str]:
        members = list(self._obj.group_keys()) + list(self._obj.array_keys())
        return sorted(set(members) | set(self._links()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        for name in self.keys():
            yield name, self.get(name)

    def values(self) -> Iterator[Any]:
        for _, node in self.items():
            yield node


class ZarrFile(ZarrGroup):
    """The root of an NWB-Zarr store, opened read-only; ``filename`` is the store's path or URI."""

    def __init__(self, root: Any, filename: str) -> None:
        super().__init__(root, self, "/")
        self.filename = filename

    def _open_member(self, path: str) -> ZarrGroup | ZarrDataset | None:
        import zarr

        try:
            obj = self._obj[path.lstrip("/")]
        except KeyError:
            return None
        if isinstance(obj, zarr.Array):
            return ZarrDataset(_checked(obj), self, path)
        return ZarrGroup(obj, self, path)

    def close(self) -> None:
        """Nothing to release (kept for symmetry with h5py files)."""

    def __enter__(self) -> ZarrFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ReadOnlyStore(MutableMapping[str, bytes]):
    """The keys of a Zarr store under ``root`` on a pyarrow filesystem (an S3 bucket), read on demand."""

    def __init__(self, filesystem: Any, root: str) -> None:
        self._fs, self._root = filesystem, root.rstrip("/")

    def __getitem__(self, key: str) -> bytes:
        try:
            with self._fs.open_input_file(f"{self._root}/{key}") as handle:
                return bytes(handle.readall())
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                raise KeyError(key) from None
            raise

    def __contains__(self, key: object) -> bool:
        try:
            self[str(key)]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        from pyarrow import fs as pafs

        selector = pafs.FileSelector(self._root, recursive=True, allow_not_found=True)
        for info in self._fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield info.path[len(self._root) + 1:]

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __setitem__(self, key: str, value: bytes) -> None:
        raise PermissionError(f"{self._root} is opened read-only")

    def __delitem__(self, key: str) -> None:
        raise PermissionError(f"{self._root} is opened read-only")


def open_zarr(location: str, *, filesystem: Any = None, name: str | None = None) -> ZarrFile:
    """Open an NWB-Zarr store read-only: a local folder, or ``location`` on ``filesystem`` (e.g. S3).

    Consolidated metadata (``.zmetadata``) is used when present, so opening costs one read. ``name`` is
    what the file's ``filename`` says (default ``location``).
    """
    import zarr

    if filesystem is None:
        store: Any = location
        consolidated = Path(location, ".zmetadata").is_file()
    else:
        store = _ReadOnlyStore(filesystem, location)
        consolidated = ".zmetadata" in store
    root = zarr.open_consolidated(store, mode="r") if consolidated else zarr.open_group(store, mode="r")
    return ZarrFile(root, name or location)
