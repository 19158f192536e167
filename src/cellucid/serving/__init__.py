"""Serving exports to the Cellucid viewer: ``cellucid serve``, ``serve()`` and the server object."""

from cellucid.serving.server import CellucidServer
from cellucid.serving.start import serve

__all__ = ["CellucidServer", "serve"]
