"""A worker's signals reach its loop even when they come while the loop is paused.

A Sanic worker runs its loop once per start-up stage after telling the main process it is
up; the main process forwards a SIGHUP (or Sanic's manager a SIGTERM) then, and uvloop
(Sanic's loop) dropped it: that worker served the old flows, or did not stop. Real signals
to this process, on both loops Sanic may use.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator

import pytest

from runtime.loop_signals import LoopSignal

uvloop = pytest.importorskip("uvloop")  # Sanic's dependency on Linux: always here in practice

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}
SIGNALS = (signal.SIGHUP, signal.SIGTERM)


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    assert threading.current_thread() is threading.main_thread(), "signals need the main thread"
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    new_loop = LOOPS[request.param]()
    yield new_loop
    new_loop.close()
    for signum, handler in before.items():
        signal.signal(signum, handler)


def _taken(loop: asyncio.AbstractEventLoop, signum: signal.Signals, calls: list[int]) -> LoopSignal:
    handled = LoopSignal(signum, lambda: calls.append(1))

    async def take() -> None:
        handled.take()

    loop.run_until_complete(take())
    return handled


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda signum: signum.name)
def test_a_signal_while_the_loop_is_paused_is_acted_on_when_it_runs_again(
    loop: asyncio.AbstractEventLoop, signum: signal.Signals
) -> None:
    calls: list[int] = []
    _taken(loop, signum, calls)

    os.kill(os.getpid(), signum)  # between two runs, as in a worker's start-up
    loop.run_until_complete(asyncio.sleep(0.05))

    assert calls == [1]


def test_a_signal_while_the_loop_runs_is_acted_on(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[int] = []
    _taken(loop, signal.SIGHUP, calls)

    async def signal_and_wait() -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)

    loop.run_until_complete(signal_and_wait())

    assert calls == [1]


def test_giving_back_restores_what_sighup_did_before(loop: asyncio.AbstractEventLoop) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what `runtime serve` sets before the workers
    calls: list[int] = []
    handled = _taken(loop, signal.SIGHUP, calls)

    handled.give_back()

    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGHUP)  # ignored: the process lives on while it drains
    loop.run_until_complete(asyncio.sleep(0.05))
    assert calls == []
