"""A worker's SIGHUP reaches the reloader even when it comes while the event loop is paused.

A Sanic worker runs its loop once per start-up stage after telling the main process it is
up; the main process forwards a SIGHUP then, and uvloop (Sanic's loop) dropped it: that
worker served the old flows. Real signals to this process, on both loops Sanic may use.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator

import pytest

from runtime.sighup import SighupReload

uvloop = pytest.importorskip("uvloop")  # Sanic's dependency on Linux: always here in practice

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    assert threading.current_thread() is threading.main_thread(), "signals need the main thread"
    before = signal.getsignal(signal.SIGHUP)
    new_loop = LOOPS[request.param]()
    yield new_loop
    new_loop.close()
    signal.signal(signal.SIGHUP, before)


def _taken(loop: asyncio.AbstractEventLoop, requests: list[int]) -> SighupReload:
    sighup = SighupReload(lambda: requests.append(1))

    async def take() -> None:
        sighup.take()

    loop.run_until_complete(take())
    return sighup


def test_a_sighup_while_the_loop_is_paused_is_acted_on_when_it_runs_again(
    loop: asyncio.AbstractEventLoop,
) -> None:
    requests: list[int] = []
    _taken(loop, requests)

    os.kill(os.getpid(), signal.SIGHUP)  # between two runs, as in a worker's start-up
    loop.run_until_complete(asyncio.sleep(0.05))

    assert requests == [1]


def test_a_sighup_while_the_loop_runs_is_acted_on(loop: asyncio.AbstractEventLoop) -> None:
    requests: list[int] = []
    _taken(loop, requests)

    async def signal_and_wait() -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)

    loop.run_until_complete(signal_and_wait())

    assert requests == [1]


def test_giving_back_restores_what_sighup_did_before(loop: asyncio.AbstractEventLoop) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what `runtime serve` sets before the workers
    requests: list[int] = []
    sighup = _taken(loop, requests)

    sighup.give_back()

    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGHUP)  # ignored: the process lives on while it drains
    loop.run_until_complete(asyncio.sleep(0.05))
    assert requests == []
