"""AutoPipeline: the store's Redis calls, sent to the server many at a time.

redis-py spends about 200 µs of the host's CPU on a call sent on its own (a connection taken
from the pool and given back, a timeout armed, a retry wrapper, a write, a read); in a
pipeline of tens, under 40 µs a call. So the calls made while pipelines are on their way
(under load, every event in hand is at some step) leave together in the next: one write,
one read of all the answers. Two pipelines are on their way at most, so Redis runs one while
this process reads the answers of the other. A lone call leaves at the end of the loop's
current turn (`loop.call_soon`), after no wait; under load a call waits for at most the
pipelines ahead of it.

Nothing else changes for a call: each script still runs atomically on its own (a pipeline is
no transaction), one coroutine's calls run in the order it awaits them, and an error is the
call's own (a script's error goes to its caller only; a lost connection fails every call of
the batch, as it would have failed each). Calls made at once may run in any order, as they
did on pooled connections; an `in_order` pipeline (one on its way at a time) runs them in
the order they are made, batch after batch (`accept_inbound` gives ids in that order,
without a lock). On a Redis Cluster, redis-py's cluster pipeline sends each node its share
of the batch, the nodes at once; a call redirected (MOVED, ASK: a resharding) goes again on
its own, after its batch.

A script the server does not know (NOSCRIPT: the first call after a start, a restart or a
`SCRIPT FLUSH`) is loaded and its calls sent again before the next batch leaves: after the
calls of their own batch, before any later one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

logger = logging.getLogger("runtime.store")

# pipelines on their way at once: two keep both sides busy (Redis runs one batch while
# this process reads the other's answers); one keeps the calls in the order they are made
IN_FLIGHT: Final = 2
MAX_BATCH: Final = 512  # calls a pipeline at most; the rest wait for the next


@dataclass(slots=True)
class _Call:
    args: tuple[Any, ...]  # the command, as redis-py's execute_command takes it
    answer: asyncio.Future[Any]
    script: Any = None  # the redis-py Script of an EVALSHA, to load it on NOSCRIPT


class AutoPipeline:
    """Batches `script` and `command` calls into pipelines on `client` (redis-py's asyncio
    `Redis` or `RedisCluster`); `errors` is `redis.exceptions`. `in_order`: one pipeline
    on its way at a time, so the server runs the calls in the order they were made."""

    def __init__(self, client: Any, errors: Any, *, in_order: bool = False) -> None:
        self._client = client
        self._in_flight = 1 if in_order else IN_FLIGHT
        self._errors = errors
        self._pending: list[_Call] = []
        self._flushing = False
        self._sending: set[asyncio.Task[None]] = set()

    def script(self, script: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        """EVALSHA of a registered script (`client.register_script`); awaitable answer."""
        return self._call(("EVALSHA", script.sha, len(keys), *keys, *args), script).answer

    def command(self, *args: object) -> Any:
        """Any command (`"MGET", key, key`); awaitable answer, as redis-py parses it."""
        return self._call(tuple(args), None).answer

    def _call(self, args: tuple[Any, ...], script: Any) -> _Call:
        loop = asyncio.get_running_loop()
        call = _Call(args, loop.create_future(), script)
        self._pending.append(call)
        if not self._flushing and len(self._sending) < self._in_flight:
            self._flushing = True
            # a pipeline carries several people's calls: its own lines name none of them
            # (log_context), so it runs in a context of its own, not the first caller's
            loop.call_soon(self._flush, context=contextvars.Context())
        return call

    def _flush(self) -> None:
        self._flushing = False
        while self._pending and len(self._sending) < self._in_flight:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)  # kept until done: the loop holds tasks weakly
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._pending and not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush, context=contextvars.Context())

    async def _send(self, batch: list[_Call]) -> None:
        try:
            await self._send_and_settle(batch)
        except Exception as err:  # a bug here: no caller is left waiting, and it is logged
            for call in batch:
                _settle(call, err)
            logger.exception("a Redis pipeline of %d calls failed unexpectedly", len(batch))

    async def _send_and_settle(self, batch: list[_Call]) -> None:
        answers = await self._execute(batch)
        if answers is None:
            return
        unknown: dict[str, Any] = {}  # scripts to load, each once for all its calls
        again: list[_Call] = []
        for call, answer in zip(batch, answers, strict=True):
            if call.script is not None and isinstance(answer, self._errors.NoScriptError):
                unknown[call.script.sha] = call.script
                again.append(call)
            else:
                _settle(call, answer)
        if not again:
            return
        # loaded and sent again before the next batch leaves: later calls stay later
        try:
            for script in unknown.values():
                await self._client.script_load(script.script)
        except Exception as err:
            for call in again:
                _settle(call, err)
            return
        answers = await self._execute(again)
        if answers is None:  # each call failed with the batch's error
            return
        for call, answer in zip(again, answers, strict=True):
            _settle(call, answer)

    async def _execute(self, batch: list[_Call]) -> list[Any] | None:
        """The batch's answers (an error among them is its call's own); None when the
        batch failed as a whole, each call then failed with the error."""
        pipeline = self._client.pipeline(transaction=False)
        for call in batch:
            pipeline.execute_command(*call.args)
        try:
            answers: list[Any] = await pipeline.execute(raise_on_error=False)
        except asyncio.CancelledError:  # the store is closing
            for call in batch:
                call.answer.cancel()
            raise
        except Exception as err:  # the connection, not one call: every call fails
            for call in batch:
                _settle(call, err)
            return None
        return answers

    async def drain(self) -> None:
        """Wait for the batches on their way (before the client closes)."""
        while self._pending or self._sending:
            if self._pending and not self._flushing:
                self._flush()
            await asyncio.gather(*self._sending, return_exceptions=True)
            await asyncio.sleep(0)


def _settle(call: _Call, answer: object) -> None:
    """The call's answer, or its error; nothing when its caller gave up waiting."""
    if call.answer.done():
        return
    if isinstance(answer, BaseException):
        call.answer.set_exception(answer)
    else:
        call.answer.set_result(answer)
