"""Years ahead: scenario runs on the market model, ensembles on Dask, a DuckDB results store."""
