"""The lines typed into `runtime chat`, read on a thread of their own so that the chat's
loop stays free to fire timers while the person types.

A line is read only when the chat asks for one (after it has answered the last), so the
prompt `> ` never shows before the bot's answer. Output printed while a prompt waits (a
timer's messages) goes over the prompt: the line is cleared, the output printed, and the
prompt drawn again below it with what was typed so far, so typing carries on undisturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any, Final, TextIO, TypeAlias

PROMPT: Final = "> "
_CLEAR_LINE: Final = "\r\x1b[K"  # back to the line's start, and erase it
# a line asked for: where to hand it, and the future that holds it
_Asked: TypeAlias = tuple[asyncio.AbstractEventLoop, asyncio.Future[str | None]]


class LineReader:
    """The next line of `source`, when asked: `ask()` then await the future it returns
    (None at the end of input). Ctrl-D ends the input at a terminal."""

    def __init__(self, source: TextIO, *, interactive: bool) -> None:
        self.source = source
        self.interactive = interactive  # a person at a terminal: a prompt, line editing
        self._asked: queue.SimpleQueue[_Asked] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._terminal = _TerminalState(source) if interactive else None

    def ask(self) -> asyncio.Future[str | None]:
        """Start reading the next line; the future holds it once typed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        if self._thread is None:
            # a daemon: a chat ended while a prompt waits (Ctrl-C) does not wait for Enter
            self._thread = threading.Thread(target=self._serve, name="chat-input", daemon=True)
            self._thread.start()
        self._asked.put((loop, future))
        return future

    def close(self) -> None:
        """Give the terminal back as it was, should a prompt still be waiting."""
        if self._terminal is not None:
            self._terminal.restore()

    @contextlib.contextmanager
    def over_the_prompt(self, out: TextIO) -> Iterator[None]:
        """Print to `out` while a prompt waits: above it, the prompt drawn again after."""
        if not self.interactive:
            yield
            return
        out.write(_CLEAR_LINE)
        out.flush()
        try:
            yield
        finally:
            out.write(PROMPT + _typed_so_far())
            out.flush()

    def _serve(self) -> None:
        while True:
            loop, future = self._asked.get()
            try:
                line = read_line(self.source, interactive=self.interactive)
            except Exception as error:  # the source broke: the chat sees it where it waits
                loop.call_soon_threadsafe(_fail, future, error)
                return
            loop.call_soon_threadsafe(_settle, future, line)
            if line is None:
                return


def read_line(source: TextIO, *, interactive: bool) -> str | None:
    """The next line typed, None at the end of input."""
    if interactive:
        try:
            return input(PROMPT)
        except EOFError:
            print()
            return None
    line = source.readline()
    return line if line else None


def _settle(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def _fail(future: asyncio.Future[str | None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _typed_so_far() -> str:
    """What the person has typed at the prompt, where line editing can tell."""
    try:
        import readline
    except ImportError:  # no line editing: the terminal keeps the typed text to itself
        return ""
    return readline.get_line_buffer()


class _TerminalState:
    """The terminal's settings before the chat: line editing changes them while a prompt
    waits, and a chat ended then (Ctrl-C) must leave them as they were."""

    def __init__(self, source: TextIO) -> None:
        self._saved: list[Any] | None = None
        self._fd = -1
        with contextlib.suppress(ImportError, OSError, ValueError):
            import termios

            self._fd = source.fileno()
            self._saved = termios.tcgetattr(self._fd)

    def restore(self) -> None:
        if self._saved is None:
            return
        with contextlib.suppress(ImportError, OSError):
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)


def is_terminal(source: TextIO) -> bool:
    """Whether `source` is the process's own stdin at a terminal (a person typing)."""
    return source is sys.stdin and source.isatty()
