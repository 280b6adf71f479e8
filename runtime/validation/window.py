"""Meta's 24-hour rule, checked before a bot runs: no message that can only go out 24 hours
or more after the person's last message.

Meta lets a bot send a message only within 24 hours of the person's last one (the worker
also checks each send at run time: a late one goes to the dead letters). A person's message
arrives when it starts a flow (a trigger, or the fallback) and when it answers an `ask` (the
steps after the ask run, or its `on_fail` flow). From each of those starts the flows are
walked step by step, adding up the waits: a `delay` adds its duration, an ask's `on_timeout`
flow starts its `timeout` after the ask's question, and `goto` and an http step's
`on_error` carry the total on. A `handover`'s timeout sends nothing (the bot takes the
thread back), so it is no part of the rule.

A step that sends a message (text, buttons, cards, an attachment, an ask's question) is an
error when its smallest total from some start is 24 hours or more: however the `when`s turn
out, it goes out too late. So a `delay` with a `when` adds nothing (it may be skipped), and a
loop is counted once round. Yet a ring of steps that waits and sends a message with no
`when` on it to end it goes round for as long as the person says nothing, until its message
is 24 hours late: an error too. Each step is reported once, with the waits that make its
total up.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from typing import Final, NamedTuple

from runtime.bot import (
    AskStep,
    AttachmentStep,
    ButtonsStep,
    CardsStep,
    CompiledFlow,
    DelayStep,
    GotoStep,
    HandoverStep,
    HttpStep,
    Step,
    TextStep,
    TriggerIndex,
)
from runtime.validation.graphs import strongly_connected
from runtime.validation.problems import Problem
from runtime.validation.waits import hours, written
from runtime.window import WINDOW_SECONDS as WINDOW

_SENDS_MESSAGES: Final = (TextStep, ButtonsStep, CardsStep, AttachmentStep, AskStep)
_ADVICE: Final = "Meta allows a bot's messages within 24 hours of it"
_LISTED: Final = 8  # waits named in a message at most
_ROUNDING: Final = 1e-6  # "12.1h" + "11.9h" is a day, whatever the floats' last digits say

Node = tuple[str, int]  # (flow, step position)


class _Wait(NamedTuple):
    """A wait on the way: `flows.x.steps.1 delay 1d`."""

    where: str
    kind: str  # "delay" or "ask timeout"
    seconds: float
    place: tuple[int, int]  # in file order, to list a ring's waits in it

    def __str__(self) -> str:
        return f"{self.where} {self.kind} {written(self.seconds)}"


class _Edge(NamedTuple):
    """A way on from a step. `certain` when it is taken whenever the step is reached,
    whatever the `when`s and the http answers (the person's silence aside)."""

    to: Node
    wait: _Wait | None
    certain: bool


class _Graph:
    """The steps of the flows as nodes, and the ways from one to the next."""

    def __init__(self, flows: Mapping[str, CompiledFlow]) -> None:
        # a flow with a step that did not compile (its problem is reported) is left out: its
        # positions no longer match its steps
        self.flows = {
            name: flow
            for name, flow in flows.items()
            if all(step.source.index == number for number, step in enumerate(flow.steps))
        }
        self.order = {name: number for number, name in enumerate(flows)}
        self.edges: dict[Node, list[_Edge]] = {
            (name, position): list(self._ways_on(flow, position))
            for name, flow in self.flows.items()
            for position in range(len(flow.steps))
        }

    def step(self, node: Node) -> Step:
        return self.flows[node[0]].steps[node[1]]

    def place(self, node: Node) -> tuple[int, int]:
        """A node's place in file order, for reports."""
        return self.order[node[0]], node[1]

    def node(self, flow: str, position: int = 0) -> Node | None:
        """The node of a step, None past a flow's end or in a flow left out."""
        found = self.flows.get(flow)
        return (flow, position) if found is not None and position < len(found.steps) else None

    def _ways_on(self, flow: CompiledFlow, position: int) -> Iterator[_Edge]:
        step = flow.steps[position]
        free = step.when is None  # a step with a `when` may be skipped
        following = self.node(flow.name, position + 1)
        where = step.source.key_path
        place = self.place((flow.name, position))

        def to(node: Node | None, wait: _Wait | None = None, *, certain: bool) -> Iterator[_Edge]:
            if node is not None:
                yield _Edge(node, wait, certain and free)

        if isinstance(step, GotoStep):
            yield from to(self.node(step.flow), certain=True)
            if not free:
                yield from to(following, certain=False)
        elif isinstance(step, DelayStep):
            wait = _Wait(where, "delay", step.seconds, place) if free else None
            yield from to(following, wait, certain=True)
        elif isinstance(step, AskStep):
            # the answer starts a count of its own (`_starts`); no answer runs on_timeout
            if step.timeout is not None and step.on_timeout is not None:
                wait = _Wait(where, "ask timeout", step.timeout, place)
                yield from to(self.node(step.on_timeout), wait, certain=True)
            if not free:
                yield from to(following, certain=False)
        elif isinstance(step, HandoverStep):  # the turn ends, and the bot says nothing more
            if not free:
                yield from to(following, certain=False)
        elif isinstance(step, HttpStep):
            yield from to(following, certain=step.on_error is None)
            if step.on_error is not None:
                yield from to(self.node(step.on_error), certain=False)
        else:
            yield from to(following, certain=True)


def window_problems(flows: Mapping[str, CompiledFlow], triggers: TriggerIndex) -> list[Problem]:
    """One error per message step that can only be sent 24 hours or more after the person's
    last message, in file order. `flows` are in file order; jumps to unknown flows are
    reported elsewhere and left out here."""
    if not any(_waits(step) for flow in flows.values() for step in flow.steps):
        return []  # the common case: nothing waits, nothing is late
    graph = _Graph(flows)
    reported: dict[Node, Problem] = {}
    starts = _starts(graph, triggers)
    waiting = _before_waits(graph)
    # a shortest way passes each wait once at most: when all of them together make less
    # than a day (a bot's short pauses), no total reaches one, and no start is walked
    longest = sum(
        edge.wait.seconds for edges in graph.edges.values() for edge in edges if edge.wait
    )
    for start in (start for start in starts if start in waiting and longest >= WINDOW):
        for node, waits in _late_messages(graph, start):
            if node not in reported:
                total = hours(sum(wait.seconds for wait in waits))
                message = (
                    f"this message can only be sent {total} after the person's last message"
                    f" ({_listed(waits)}); {_ADVICE}: shorten the waits"
                )
                reported[node] = _problem(graph, node, message)
    for node, waits in _endless_rings(graph, starts):
        if node not in reported:
            message = (
                f"this message is sent again after each {_listed(waits)} for as"
                " long as the person says nothing, so in time it goes out 24 hours or more"
                f" after their last message; {_ADVICE}: end the loop with a `when` on one of"
                " its steps (such as a count kept in vars)"
            )
            reported[node] = _problem(graph, node, message)
    return [reported[node] for node in sorted(reported, key=graph.place)]


def _listed(waits: Sequence[_Wait]) -> str:
    """The waits joined with " + ", the first few of a long list: `a + b + ... (30 waits)`."""
    if len(waits) <= _LISTED:
        return " + ".join(map(str, waits))
    shown = " + ".join(map(str, waits[: _LISTED - 1]))
    return f"{shown} + ... ({len(waits)} waits)"


def _waits(step: Step) -> bool:
    return isinstance(step, DelayStep) or (
        isinstance(step, AskStep) and step.timeout is not None and step.on_timeout is not None
    )


def _starts(graph: _Graph, triggers: TriggerIndex) -> list[Node]:
    """Where a person's message starts a count, in file order: the first step of a flow it
    starts, the step after an ask it answers, the first step of an ask's on_fail flow."""
    started = {*triggers.by_payload.values(), *triggers.by_keyword.values()}
    started |= {*triggers.by_attachment.values(), *(flow for _, flow in triggers.regexes)}
    if triggers.fallback is not None:
        started.add(triggers.fallback)
    found: dict[Node, None] = {}
    for name, flow in graph.flows.items():
        candidates = [graph.node(name) if name in started else None]
        for position, step in enumerate(flow.steps):
            if isinstance(step, AskStep):
                candidates.append(graph.node(name, position + 1))
                if step.on_fail is not None:
                    candidates.append(graph.node(step.on_fail))
        found.update((node, None) for node in candidates if node is not None)
    return list(found)


def _late_messages(graph: _Graph, start: Node) -> Iterator[tuple[Node, list[_Wait]]]:
    """The message steps whose smallest total from `start` is WINDOW or more, each with the
    waits that make that total (Dijkstra's shortest paths: a loop never lowers a total, so
    the walk ends). A path stops at its first late message: the ones after it are late for
    the same waits."""
    best: dict[Node, tuple[float, Node | None, _Wait | None]] = {start: (0.0, None, None)}
    queue: list[tuple[float, int, Node]] = [(0.0, 0, start)]
    pushed = 1  # ties leave in the order they came, so the report is the same every run
    while queue:
        total, _, node = heapq.heappop(queue)
        if total > best[node][0]:
            continue  # reached more cheaply since
        if total >= WINDOW - _ROUNDING and isinstance(graph.step(node), _SENDS_MESSAGES):
            yield node, _waits_to(best, node)
            continue
        for edge in graph.edges[node]:
            reached = total + (edge.wait.seconds if edge.wait is not None else 0.0)
            if edge.to not in best or reached < best[edge.to][0]:
                best[edge.to] = (reached, node, edge.wait)
                heapq.heappush(queue, (reached, pushed, edge.to))
                pushed += 1


def _waits_to(
    best: Mapping[Node, tuple[float, Node | None, _Wait | None]], node: Node
) -> list[_Wait]:
    waits: list[_Wait] = []
    came_from: Node | None = node
    while came_from is not None:
        _, came_from, wait = best[came_from]
        if wait is not None:
            waits.append(wait)
    return waits[::-1]


def _endless_rings(graph: _Graph, starts: list[Node]) -> Iterator[tuple[Node, list[_Wait]]]:
    """Rings of certain ways (no `when` on them) that wait and send a message, reached from
    a start: the first message step of each, with the ring's waits."""
    certain = {
        node: [edge.to for edge in edges if edge.certain] for node, edges in graph.edges.items()
    }
    reached = _reached(graph, starts)
    for ring in strongly_connected(certain, certain.__getitem__):
        members = set(ring)
        waits = sorted(
            (
                edge.wait
                for node in ring
                for edge in graph.edges[node]
                if edge.certain and edge.wait is not None and edge.to in members
            ),
            key=lambda wait: wait.place,
        )
        messages = [
            node
            for node in ring
            if node in reached and isinstance(graph.step(node), _SENDS_MESSAGES)
        ]
        if waits and messages:
            yield min(messages, key=graph.place), waits


def _before_waits(graph: _Graph) -> set[Node]:
    """The steps from which some way leads through a wait: only a start among them can
    reach a total above 0."""
    callers: dict[Node, list[Node]] = {}
    pending: list[Node] = []
    for node, edges in graph.edges.items():
        for edge in edges:
            callers.setdefault(edge.to, []).append(node)
            if edge.wait is not None:
                pending.append(node)
    seen = set(pending)
    while pending:
        for caller in callers.get(pending.pop(), ()):
            if caller not in seen:
                seen.add(caller)
                pending.append(caller)
    return seen


def _reached(graph: _Graph, starts: list[Node]) -> set[Node]:
    seen = set(starts)
    pending = list(starts)
    while pending:
        for edge in graph.edges[pending.pop()]:
            if edge.to not in seen:
                seen.add(edge.to)
                pending.append(edge.to)
    return seen


def _problem(graph: _Graph, node: Node, message: str) -> Problem:
    source = graph.step(node).source
    return Problem(file=source.file, path=source.key_path, message=message)
