"""Goto cycles: flows that lead back to themselves by `goto` within one turn.

Only an `ask` or a `delay` ends a turn's run of steps (a message with quick replies or
buttons does not wait: the steps after it run at once), so a ring of flows whose gotos are
all taken and that holds no `ask` or `delay` runs round and round until the engine's cap
(MAX_GOTOS a turn) stops it, sending its messages again each round. That is an error. A
ring that some `when` may break (a conditional goto, or a conditional `ask` on the way) may
be meant, such as a counter that ends it: a warning naming the ring. (A ring that waits is
the 24-hour rule's business: runtime/validation/window.py.)

A flow's exits are the gotos a run of it from its first step can reach without waiting:
those before the first unconditional `ask` or `delay` and up to the first unconditional
`goto`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from runtime.bot import AskStep, CompiledFlow, DelayStep, GotoStep
from runtime.dialog.engine import MAX_GOTOS
from runtime.validation.graphs import strongly_connected
from runtime.validation.problems import Problem, Severity


class _Exit(NamedTuple):
    """A goto a run of its flow can reach; `certain` when nothing before it or on it can
    keep the run from taking it (no `when` on the way, no `ask`)."""

    step: GotoStep
    certain: bool


def goto_cycle_problems(flows: Mapping[str, CompiledFlow]) -> list[Problem]:
    """One problem per ring of flows that can run in one turn without end.

    `flows` is in file order; every goto target in it exists (the caller checks them first
    and leaves unknown targets out). A ring is named from its flow that comes first.
    """
    exits = _ring_candidates(flows)
    if not exits:
        return []
    order = {name: number for number, name in enumerate(flows)}
    problems: list[tuple[int, Problem]] = []
    targets = {name: [exit_.step.flow for exit_ in found] for name, found in exits.items()}
    for ring in strongly_connected(exits, targets.__getitem__):
        start = min(ring, key=order.__getitem__)
        if len(ring) == 1 and all(exit_.step.flow != start for exit_ in exits[start]):
            continue  # one flow with no goto to itself: not a ring
        cycle = _cycle_through(start, exits, set(ring))
        if cycle is None:  # pragma: no cover - a ring of a strongly connected component
            continue
        # a flow whose one exit is certain leaves no other way out of the ring
        certain = all(exits[name][0].certain for name in ring)
        problems.append((order[start], _problem(cycle, certain=certain)))
    return [problem for _, problem in sorted(problems, key=lambda item: item[0])]


def _ring_candidates(flows: Mapping[str, CompiledFlow]) -> dict[str, list[_Exit]]:
    """The exits of the flows that may be in a ring, to those flows only.

    Most flows have no goto, and most gotos lead to a flow that ends (a menu): every path
    through them ends, so they are peeled off before the rings are looked for (each flow
    whose exits all lead to peeled flows is peeled in turn).
    """
    exits = {name: found for name, flow in flows.items() if (found := _exits(flow, flows))}
    callers: dict[str, list[str]] = {}
    open_exits: dict[str, int] = {}
    for name, found in exits.items():
        targets = [exit_.step.flow for exit_ in found if exit_.step.flow in exits]
        open_exits[name] = len(targets)
        for target in targets:
            callers.setdefault(target, []).append(name)
    ended = [name for name, count in open_exits.items() if count == 0]
    while ended:
        for caller in callers.get(ended.pop(), ()):
            open_exits[caller] -= 1
            if open_exits[caller] == 0:
                ended.append(caller)
    return {
        name: [exit_ for exit_ in exits[name] if open_exits.get(exit_.step.flow, 0) > 0]
        for name, count in open_exits.items()
        if count > 0
    }


def _exits(flow: CompiledFlow, flows: Mapping[str, CompiledFlow]) -> list[_Exit]:
    found: list[_Exit] = []
    certain = True
    for step in flow.steps:
        if isinstance(step, AskStep | DelayStep):
            if step.when is None:
                break  # the run waits here for the person's answer, or for the delay
            certain = False
        elif isinstance(step, GotoStep):
            if step.flow in flows:
                found.append(_Exit(step, certain=certain and step.when is None))
            if step.when is None:
                break  # the steps after it never run
            certain = False
    return found


def _cycle_through(
    start: str, exits: Mapping[str, Sequence[_Exit]], members: set[str]
) -> list[_Exit] | None:
    """A shortest ring from `start` back to it inside `members`, as the gotos taken."""
    came_by: dict[str, _Exit] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for name in frontier:
            for exit_ in exits[name]:
                target = exit_.step.flow
                if target not in members:
                    continue
                if target == start:
                    ring = [exit_]
                    while ring[0].step.source.flow != start:
                        ring.insert(0, came_by[ring[0].step.source.flow])
                    return ring
                if target not in came_by:
                    came_by[target] = exit_
                    following.append(target)
        frontier = following
    return None


def _problem(cycle: Sequence[_Exit], *, certain: bool) -> Problem:
    names = [exit_.step.source.flow for exit_ in cycle]
    ring = " -> ".join([*names, names[0]])
    first = cycle[0].step.source
    if certain:
        message = (
            f"goto cycle {ring} sends messages forever with no answer awaited (the runtime "
            f"stops a turn after {MAX_GOTOS} gotos, each round sending its messages again): "
            "no `ask` in it waits for the person and no `when` can end it; put an `ask` in "
            "it, or a `when` on one of its gotos that ends it"
        )
    else:
        message = (
            f"goto cycle {ring} awaits no answer: while its `when` conditions hold it goes "
            f"round without end (the runtime stops a turn after {MAX_GOTOS} gotos); make sure "
            "a condition ends it, or put an `ask` in it"
        )
    return Problem(
        file=first.file,
        path=f"{first.key_path}.goto",
        message=message,
        severity=Severity.ERROR if certain else Severity.WARNING,
    )
