"""Serving Cellucid-ready AnnData stores as they are: upstream 0.9.5's AnnData server routes.

See docs/serving.md, "Serving a Cellucid-ready store".
"""

from cellucid.serving.stores.catalog import Catalog
from cellucid.serving.stores.discover import ServedStore, StoreNotReady, read_store
from cellucid.serving.stores.server import StoreServer

__all__ = ["Catalog", "ServedStore", "StoreNotReady", "StoreServer", "read_store"]
