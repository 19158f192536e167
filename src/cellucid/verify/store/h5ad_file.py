"""An ``.h5ad``: an HDF5 file read with h5py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .nodes import Codec, Node, Store, StoreError, plain


class H5adStore(Store):
    """An ``.h5ad`` file."""

    container = "h5ad"

    def __init__(self, path: Path) -> None:
        import h5py

        super().__init__(path)
        try:
            self.file = h5py.File(path, "r")
        except OSError as error:
            raise StoreError(f"{path}: not a readable HDF5 file ({error})") from error
        self.nodes = {"": _h5_node("", self.file)}
        self.file.visititems(lambda name, item: self.nodes.__setitem__(name, _h5_node(name, item)))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def read(self, path: str, selection: Any = ...) -> np.ndarray:
        import h5py

        dataset = self.file[path]
        if h5py.check_string_dtype(dataset.dtype) is not None:
            return np.asarray(dataset.asstr()[selection], dtype=object)
        if dataset.shape == () and selection is ...:
            return np.asarray(dataset[()])
        return np.asarray(dataset[selection])


def _h5_node(path: str, item: Any) -> Node:
    import h5py

    attrs = {key: plain(value) for key, value in item.attrs.items()}
    if isinstance(item, h5py.Group):
        return Node(path, True, attrs, children=tuple(sorted(item.keys())))
    strings = h5py.check_string_dtype(item.dtype)
    codecs = []
    if item.shuffle:
        codecs.append(Codec.of("shuffle"))
    if item.compression is not None:
        level = item.compression_opts
        codecs.append(Codec.of(str(item.compression), {} if level is None else {"level": level}))
    if item.fletcher32:
        codecs.append(Codec.of("fletcher32"))
    if item.scaleoffset is not None:
        codecs.append(Codec.of("scaleoffset", {"factor": item.scaleoffset}))
    is_vlen_utf8 = strings is not None and strings.length is None and strings.encoding == "utf-8"
    return Node(
        path,
        False,
        attrs,
        shape=tuple(item.shape),
        dtype=np.dtype(object) if strings is not None else np.dtype(item.dtype),
        strings=is_vlen_utf8,
        chunks=None if item.chunks is None else tuple(item.chunks),
        codecs=tuple(codecs),
        fill_value=plain(item.fillvalue),
        layout={"h5_string": strings},
    )
