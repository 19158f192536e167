"""Serving exports to the Cellucid viewer: ``cellucid serve``, ``serve()`` and the server object."""

from cellucid.serving.server import CellucidServer, serve

__all__ = ["CellucidServer", "serve"]
