"""Hot reload: watch the files a Bot is made of; rebuild off the event loop; swap one reference.

A save burst (an editor's write, rename, chmod) is one reload: watchfiles groups changes
until STEP_MS pass without one. A good edit is logged as "reload OK (<reason>): version
<hash> ...", or "reload OK again" when it follows a rejected one. A broken edit is rejected:
every problem is logged as `file: key.path: message`, then "keeping version <hash>", the
last good Bot serves on, and `Reloader.last_error` holds the problems (for /healthz) until
a reload succeeds.
What a running server cannot change (its address, its state store, the Graph API client) is
logged as "restart required for <key>" and keeps its old value until a restart.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import watchfiles

from runtime.background import cancel_and_wait
from runtime.bot import Bot
from runtime.build import BotBuilder, BuiltBot
from runtime.config.model import Config
from runtime.errors import ConfigError
from runtime.observe import NULL_OBSERVER, Observer

logger = logging.getLogger("runtime.reload")
# at debug level watchfiles says "rust notify timeout, continuing" every 5 s per watch
logging.getLogger("watchfiles").setLevel(logging.INFO)

# watchfiles yields once no change came for STEP_MS (an editor's burst is over), and at the
# latest after DEBOUNCE_MS of changes. Its defaults (50 / 1600) would make a reload wait up
# to 1.6 s; a save is done well within 50 ms.
STEP_MS: Final = 50
DEBOUNCE_MS: Final = 300


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """What to watch: folders whose whole tree matters, and single files (by their folder)."""

    trees: frozenset[Path]
    files: frozenset[Path]

    @property
    def folders(self) -> frozenset[Path]:
        return frozenset(path.parent for path in self.files)

    def matters(self, path: Path) -> bool:
        if path in self.files:
            return True
        if not any(path.is_relative_to(tree) for tree in self.trees):
            return False
        # a folder made or removed may hold flow files its creation outran the watch on
        return path.suffix == ".json5" or path.is_dir() or not path.exists()


def bot_watch_plan(bot: Bot) -> WatchPlan:
    """What a running Bot is made of: its config's files and flows, and the media files its
    flows send (a new logo saved over the old one is uploaded after the reload it causes)."""
    return watch_plan(bot.config, media=bot.media_paths)


def watch_plan(config: Config, *, media: Iterable[Path] = ()) -> WatchPlan:
    """The files and folders `config` and its flows are read from, plus `media` files."""
    files = _file_and_target(config.path)
    for path in media:
        files |= _file_and_target(path)
    for account in config.accounts.values():
        if account.token_file:
            files |= _file_and_target(account.token_file)
    trees: set[Path] = set()
    for source in config.flow_sources:
        target = config.base_dir / source
        if glob.has_magic(source):
            base = Path(source.split("*")[0].split("?")[0].split("[")[0])
            target = (config.base_dir / base).resolve()
            trees.add(target if target.is_dir() else target.parent)
        elif target.is_dir():
            trees.add(target.resolve())
        else:
            files |= _file_and_target(target)  # or a folder not made yet: its parent is watched
    return WatchPlan(trees=frozenset(trees), files=frozenset(files))


def _file_and_target(path: Path) -> set[Path]:
    """A file by its own name and, when it is a symbolic link, by its target's: a link
    pointed elsewhere (or at nothing) and an edit of the file it points to both reload."""
    return {path.absolute(), path.resolve()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadError:
    """The last rejected reload: when, why it was tried, and what was wrong.

    `problems` are one line each (`file:line:col: key.path: message`): only the first line
    of a problem's text, since /healthz shows them and a syntax error's quoted source line
    may hold a token.
    """

    at: float
    reason: str
    kept_version: str
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds"),
            "reason": self.reason,
            "keptVersion": self.kept_version,
            "problems": list(self.problems),
        }


def restart_required(old: Config, new: Config) -> list[str]:
    """Keys whose new value a running server cannot take."""
    changed = []
    if old.server.host != new.server.host:
        changed.append("server.host")
    if old.server.port != new.server.port:
        changed.append("server.port")
    if old.server.metrics != new.server.metrics:
        changed.append("server.metrics")
    if old.state != new.state:  # backend, path, url, prefix
        changed.append("state")
    if old.graph != new.graph:
        changed.append("channels.messenger.graphApiBase/graphApiVersion/graphBatch")
    return changed


class Reloader:
    """Owns the watch task; `request()` asks for a reload now (SIGHUP)."""

    def __init__(
        self,
        builder: BotBuilder,
        *,
        current: Callable[[], Bot],
        swap: Callable[[Bot], None],
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self._builder = builder
        self._observer = observer  # each reload, served or rejected
        self._current = current
        self._swap = swap
        self._requested = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.last_error: ReloadError | None = None

    def start(self, *, watch: bool = True) -> None:
        """Reload on request (SIGHUP) and, with `watch`, whenever a file changes."""
        self._task = asyncio.create_task(self._run(watch), name="reloader")

    async def stop(self) -> None:
        self._stop.set()
        await cancel_and_wait(self._task)
        self._task = None

    def request(self) -> None:
        self._requested.set()

    async def reload(self, reason: str) -> bool:
        """Rebuild now; swap and return True if the new version is valid."""
        async with self._lock:
            old = self._current()
            started = time.perf_counter()
            try:
                built: BuiltBot = await asyncio.to_thread(self._builder.build)
            except ConfigError as err:
                for problem in err.problems:
                    logger.error("%s", problem.format())
                logger.error("reload (%s) rejected; keeping version %s", reason, old.version)
                self._rejected(reason, old, [problem.format() for problem in err.problems])
                return False
            except Exception as err:  # the serving version must survive anything a rebuild does
                logger.exception("reload (%s) failed; keeping version %s", reason, old.version)
                self._rejected(reason, old, [f"unexpected error: {type(err).__name__}: {err}"])
                return False
            seconds = time.perf_counter() - started
            new = built.bot
            for key in restart_required(old.config, new.config):
                logger.warning(
                    "restart required for %s: the running server keeps the old value", key
                )
            if new.version != old.version:
                self._swap(new)
                for warning in built.warnings:
                    logger.warning("%s", warning.format())
            self._succeeded(reason, old, new, seconds)
            return True

    def _rejected(self, reason: str, kept: Bot, problems: list[str]) -> None:
        self._observer.reload(ok=False)
        self.last_error = ReloadError(
            at=time.time(),
            reason=reason,
            kept_version=kept.version,
            problems=tuple(problem.split("\n", 1)[0] for problem in problems),
        )

    def _succeeded(self, reason: str, old: Bot, new: Bot, seconds: float) -> None:
        self._observer.reload(ok=True)
        again = self.last_error is not None
        self.last_error = None
        if new.version == old.version and not again:
            logger.debug("reload (%s): nothing changed (version %s)", reason, old.version)
            return
        version = (
            f"{new.version} (unchanged)"
            if new.version == old.version
            else f"{new.version} (was {old.version})"
        )
        logger.info(
            "reload OK%s (%s): version %s, %d flows, %.2f s",
            " again" if again else "",
            reason,
            version,
            len(new.flows),
            seconds,
        )

    async def _run(self, watch: bool) -> None:
        while not self._stop.is_set():
            plan = bot_watch_plan(self._current()) if watch else None
            await self._watch(plan)

    async def _watch(self, plan: WatchPlan | None) -> None:
        """Reload on every relevant change (and request) until the plan itself changes."""
        changes: asyncio.Queue[str] = asyncio.Queue()
        watchers = []
        if plan is not None:
            watchers = [
                asyncio.create_task(self._feed(changes, plan, roots, recursive))
                for roots, recursive in ((plan.trees, True), (plan.folders, False))
                if roots
            ]
        watchers.append(asyncio.create_task(self._feed_requests(changes)))
        try:
            while True:
                reason = await changes.get()
                reloaded = await self.reload(reason)
                if plan is not None and reloaded and bot_watch_plan(self._current()) != plan:
                    return  # new flow folders, token or media files: watch those instead
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _feed(
        self, changes: asyncio.Queue[str], plan: WatchPlan, roots: Iterable[Path], recursive: bool
    ) -> None:
        existing = [str(root) for root in roots if root.is_dir()]
        if not existing:
            return
        async for batch in watchfiles.awatch(
            *existing,
            watch_filter=lambda _change, path: plan.matters(Path(path)),
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            recursive=recursive,
            stop_event=self._stop,
        ):
            names = sorted({Path(path).name for _, path in batch})
            changes.put_nowait(f"changed: {', '.join(names[:3])}{'...' if len(names) > 3 else ''}")

    async def _feed_requests(self, changes: asyncio.Queue[str]) -> None:
        while True:
            await self._requested.wait()
            self._requested.clear()
            changes.put_nowait("SIGHUP")
