"""The Cellucid-ready AnnData store (`.zarr`, `.zarr.zip`, `.h5ad`) that today's Cellucid web app opens."""
