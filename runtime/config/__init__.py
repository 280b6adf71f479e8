"""The config file: JSON5 loading, `${VAR}` and token resolution, accounts, the typed model."""
