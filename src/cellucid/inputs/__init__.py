"""Inputs: adapters that wrap every array kind as a cell-chunked dask array, readers of
.h5ad and Zarr stores, obs tables, embedding choice and pre-0.7 AnnData."""
