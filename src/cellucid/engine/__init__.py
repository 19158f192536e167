"""The out-of-core engine: inputs as chunked dask arrays, reductions, chunked writers."""
