"""The Cellucid-ready AnnData store (``.zarr``, ``.zarr.zip``, ``.h5ad``) of today's Cellucid
web app."""
