"""A translator's round trip: `runtime texts export` lists every text a person reads with its
`default` beside it (export.py), `runtime texts import` writes the translations back into the
files they came from (import_file.py reads them, writer.py plans and makes the edits), both
from the bot's texts as its files write them (catalog.py)."""
