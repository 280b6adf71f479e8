"""The state store: one async interface, an embedded SQLite default, Redis for several hosts."""
