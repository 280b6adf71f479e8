"""Notes: the problems one turn meets (a template that fails, a value cut to fit), as log lines."""

from __future__ import annotations

from runtime.bot import StepSource


class Notes:
    """Collects one line per problem, `file: flows.x.steps.n.field: message`.

    A template or expression that raised is a *failure*; the flows that had one are kept in
    `failed_flows`, so the engine can decide to answer with the fallback flow instead.
    """

    __slots__ = ("failed_flows", "lines")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failed_flows: set[str] = set()

    def add(self, source: StepSource, field: str, message: str) -> None:
        path = f"{source.key_path}.{field}" if field else source.key_path
        self.lines.append(f"{source.file}: {path}: {message}")

    def failure(self, source: StepSource, field: str, err: Exception, consequence: str) -> None:
        """A template or `when` raised `err`; say what was left out because of it."""
        self.failed_flows.add(source.flow)
        self.add(source, field, f"does not render ({type(err).__name__}: {err}); {consequence}")

    def add_line(self, line: str) -> None:
        """A note that belongs to no step (the session's wait is gone, for one)."""
        self.lines.append(line)
