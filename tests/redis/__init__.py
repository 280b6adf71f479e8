"""The Redis store end to end: operators' commands and errors, a cluster, several hosts."""
