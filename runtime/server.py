"""create_app: the Sanic app serving the Messenger webhook; handlers verify, keep, answer 200.

Deploy with `runtime serve` or `sanic runtime.server:create_app --factory` (the config from
`RUNTIME_CONFIG`). A POST is verified (signature), parsed once, normalized, written to the
durable inbox in one transaction (deduplicated by message id), and answered 200; the worker
does the rest after the response.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from runtime.bot import Bot
from runtime.build import BotBuilder
from runtime.config.load import default_config_path
from runtime.config.model import Account, StateBackend, StateSettings
from runtime.emulator.settings import EmulatorSettings
from runtime.errors import StoreError, WebhookError
from runtime.http_calls import HttpCaller
from runtime.leases import LEASE_SECONDS, LeaseKeeper, lease_from_now
from runtime.logs import setup_logging
from runtime.loop_signals import LoopSignal
from runtime.messenger.graph import GraphClient
from runtime.messenger.sender import RetryPolicy, SenderPool
from runtime.messenger.signature import HEADER, matching_secret, refusal
from runtime.messenger.webhook import (
    PageEvent,
    entry_page_ids,
    page_events,
    parse_body,
    to_envelope,
)
from runtime.observe import NULL_OBSERVER, SKIPPED, Observer, WebhookOutcome
from runtime.outage import Outage
from runtime.parent_watch import ParentWatch
from runtime.people import UserProfiles
from runtime.profile_keeper import ProfileKeeper
from runtime.reload import Reloader
from runtime.session import session_key
from runtime.store.base import NewInbound, Store
from runtime.store.factory import open_store
from runtime.validation.problems import Problem
from runtime.worker import InboxWorker, recover_dead_workers, worker_id

if TYPE_CHECKING:  # prometheus_client is imported only when metrics are on
    from runtime.metrics import PrometheusObserver

GC_FREEZE_DELAY = 5.0  # seconds after a reload: by then no turn holds the old Bot

logger = logging.getLogger("runtime.server")

MAX_BODY_BYTES = 1024 * 1024  # a larger webhook body is answered 413
DEDUPE_TTL = 48 * 3600.0  # Meta redelivers unacknowledged events for hours; keep ids 2 days
WEBHOOK_PATH = "/webhook/messenger"
METRICS_PATH = "/metrics"  # Prometheus' text format (`server.metrics`, on by default)


@dataclass(slots=True)
class Runtime:
    """Everything a running app holds; lives on `app.ctx.runtime`."""

    config_path: Path
    bot: Bot
    builder: BotBuilder
    retry: RetryPolicy
    worker_id: str
    lease: float = LEASE_SECONDS
    reload: bool = True
    store: Store | None = None
    client: GraphClient | None = None
    sender: SenderPool | None = None
    worker: InboxWorker | None = None
    people: UserProfiles | None = None  # the person's profile fields (`user.*`) for turns
    http: HttpCaller | None = None  # the `http` steps' calls to the business's APIs
    leases: LeaseKeeper | None = None
    reloader: Reloader | None = None
    announce: bool = True  # log warnings and accounts at start (`runtime serve` does it once)
    warnings: tuple[Problem, ...] = ()  # the config's and flows' warnings, as built
    sighup: LoopSignal | None = None  # SIGHUP reloads while the worker serves
    parent_watch: ParentWatch | None = None  # a worker of several: stop when the main ends
    page_profiles: ProfileKeeper | None = None  # in one worker of the server only
    observer: Observer = NULL_OBSERVER  # what the pipeline reports, for /metrics
    metrics: PrometheusObserver | None = None  # the same, when `server.metrics` is on
    # webhook POSTs answered 503 since the store stopped answering: one line, not one a POST
    refusals: Outage = field(
        default_factory=lambda: Outage(
            logger,
            "webhook POSTs kept again; %d were answered 503 meanwhile (Meta delivers them again)",
        )
    )

    def swap(self, bot: Bot) -> None:
        """The reload: one reference; a turn in flight keeps the Bot it started with."""
        old, self.bot = self.bot, bot
        self.observer.version(bot.version)
        if self.page_profiles is not None:  # a changed profile is synced again
            self.page_profiles.follow(old.accounts, bot.accounts)
        # once the turns that still hold the old Bot are done: collect it, freeze the new one
        asyncio.get_running_loop().call_later(GC_FREEZE_DELAY, freeze_long_lived)


def create_app(
    config_path: Path | str | None = None,
    *,
    name: str = "messenger-runtime",
    env: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    reload: bool = True,
    lease: float = LEASE_SECONDS,
    log_level: int | None = None,
    announce: bool = True,
    emulator: EmulatorSettings | None = None,
) -> Sanic[Any, Any]:
    """Build the app for a config file (default: `$RUNTIME_CONFIG`, else ./config.json5).

    Raises ConfigError if the config or a flow is invalid: a server never starts on a
    broken bot. `name` must be unique within one process (Sanic registers apps by name).
    With `reload`, the files are watched and a valid edit is served without a restart;
    `kill -HUP` reloads on demand either way. `lease` is how long claimed work is this
    worker's alone (tests shorten it; see runtime/leases.py). `log_level` is applied in
    the process that builds the app (each worker builds its own). With `announce`, the app
    logs the config's warnings, its accounts and its version as it starts; `runtime serve`
    passes False and logs them once for all its workers (`announce_bot`). With `emulator`,
    the app also serves the Messenger emulator and its Graph API stand-in, which every
    Graph API call goes to (runtime/emulator/).
    """
    setup_logging(log_level)
    path = Path(config_path) if config_path is not None else default_config_path(env)
    builder = BotBuilder(
        path,
        env=env,
        offline=emulator is not None and emulator.offline,
        adjust=emulator.adjust if emulator is not None else None,
    )
    built = builder.build()
    # Sanic's records go through our one handler (one line each, tokens masked)
    app: Sanic[Any, Any] = Sanic(name, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.ACCESS_LOG = False  # no per-request log lines on the hot path
    metrics = _metrics_observer() if built.bot.config.server.metrics else None
    app.ctx.runtime = Runtime(
        config_path=path,
        bot=built.bot,
        builder=builder,
        reload=reload,
        retry=retry or RetryPolicy(),
        worker_id=worker_id(),
        lease=lease,
        announce=announce,
        warnings=built.warnings,
        observer=metrics or NULL_OBSERVER,
        metrics=metrics,
    )
    app.before_server_start(_start)
    app.after_server_start(_watch_files)
    app.after_server_start(_take_stop_signals)
    app.before_server_stop(_stop)
    app.add_route(_verify, WEBHOOK_PATH, methods=["GET"], name="verify")
    app.add_route(_verify, f"{WEBHOOK_PATH}/<account_id>", methods=["GET"], name="verify_account")
    app.add_route(_receive, WEBHOOK_PATH, methods=["POST"], name="receive")
    app.add_route(
        _receive, f"{WEBHOOK_PATH}/<account_id>", methods=["POST"], name="receive_account"
    )
    app.add_route(_healthz, "/healthz", methods=["GET"], name="healthz")
    if metrics is not None:
        app.add_route(_metrics, METRICS_PATH, methods=["GET"], name="metrics")
    if emulator is not None:
        from runtime.emulator.app import add_emulator

        add_emulator(app, emulator)
    return app


def _metrics_observer() -> PrometheusObserver:
    from runtime.metrics import PrometheusObserver

    return PrometheusObserver()


def runtime_of(app: Sanic[Any, Any]) -> Runtime:
    state: Runtime = app.ctx.runtime
    return state


async def _start(app: Sanic[Any, Any]) -> None:
    state = runtime_of(app)
    bot = state.bot
    state.store = await open_store(bot.config.state)
    await recover_dead_workers(state.store)
    state.client = GraphClient(bot.config.graph, observer=state.observer)
    await state.client.open()
    state.sender = SenderPool(
        state.client,
        state.store,
        lambda: runtime_of(app).bot.accounts,
        retry=state.retry,
        # a person's replies have left: the store leased their next event for this worker
        next_lease=partial(lease_from_now, state.worker_id, state.lease),
        on_settled=lambda events: state.worker.hand(events) if state.worker is not None else None,
        lease=state.lease,
        observer=state.observer,
    )
    state.sender.start()
    state.people = UserProfiles(state.store, state.client)
    state.http = HttpCaller(environ=state.builder.env)  # `${VAR}`: the config's environment
    await state.http.open()
    state.worker = InboxWorker(
        store=state.store,
        bot=lambda: runtime_of(app).bot,
        sender=state.sender,
        worker_id=state.worker_id,
        lease=state.lease,
        profiles=state.people,
        http=state.http,
        observer=state.observer,
    )
    state.worker.start()
    state.leases = LeaseKeeper(
        state.store,
        state.worker_id,
        inbound=state.worker,
        outbound=state.sender,
        lease=state.lease,
    )
    state.leases.start()
    state.reloader = Reloader(
        state.builder, current=lambda: state.bot, swap=state.swap, observer=state.observer
    )
    state.observer.version(bot.version)
    state.sighup = LoopSignal(signal.SIGHUP, state.reloader.request)
    state.sighup.take()
    if os.environ.get("SANIC_WORKER_NAME"):  # a worker Sanic's main process started
        state.parent_watch = ParentWatch(partial(app.stop, terminate=False))
        state.parent_watch.start()
    if is_first_worker():  # the Messenger Profile is the page's: synced once per server
        state.page_profiles = ProfileKeeper(state.client, lambda: runtime_of(app).bot.accounts)
        state.page_profiles.start()
    if state.announce:
        announce_bot(bot, state.warnings)
        logger.info("%s", describe_bot(bot))
    logger.debug("worker %s started, serving version %s", state.worker_id, bot.version)
    freeze_long_lived()


async def _watch_files(app: Sanic[Any, Any]) -> None:
    """Reload on SIGHUP and file changes, once the worker serves. Not before: the watcher
    runs in one of anyio's worker threads, which only stop when the task that was running
    the loop when they began ends; a SIGTERM during Sanic's start-up stops the loop before
    that task ends, and the thread, not a daemon, then kept the process from exiting."""
    state = runtime_of(app)
    if state.reloader is not None:
        state.reloader.start(watch=state.reload)


async def _take_stop_signals(app: Sanic[Any, Any]) -> None:
    """In a worker Sanic's main process started, SIGTERM and SIGINT stop it as Sanic's own
    handlers do, through a handler that outlives the moments its loop is not running
    (runtime/loop_signals.py): Sanic sets its handlers just before this runs, on uvloop,
    which lost a stop that came as the worker told the main process it serves."""
    if not os.environ.get("SANIC_WORKER_NAME"):
        return  # the only process: `runtime serve` and Sanic handle its signals
    for signum in (signal.SIGTERM, signal.SIGINT):
        LoopSignal(signum, partial(app.stop, terminate=False)).take()


def is_first_worker() -> bool:
    """Whether this process does what a server does once, whatever its worker count: the
    only process, or Sanic's first server worker (`Sanic-Server-0-<n>`; n counts restarts)."""
    name = os.environ.get("SANIC_WORKER_NAME")
    return not name or name.startswith("Sanic-Server-0-")


def announce_bot(bot: Bot, warnings: Sequence[Problem]) -> None:
    """The config's warnings, then one line per account: name, page, policy, webhook path
    (a warning when it has no appSecret)."""
    for warning in warnings:
        logger.warning("%s", warning.format())
    for account in bot.accounts.values():
        unsigned = account.app_secret is None
        logger.log(
            logging.WARNING if unsigned else logging.INFO,
            "account %s: page %s, dmPolicy %s, webhook %s/%s%s",
            account.label,
            account.page_id or "(any)",
            account.dm_policy,
            WEBHOOK_PATH,
            account.id,
            " (no appSecret: signatures NOT verified)" if unsigned else "",
        )


def describe_bot(bot: Bot) -> str:
    """`version 3f2a9c1d7e0b: 7 flows, 2 accounts; state sqlite /srv/bot/.runtime/state.db`."""
    flows = len(bot.flows)
    accounts = len(bot.accounts)
    state = describe_state(bot.config.state)
    return (
        f"version {bot.version}: {flows} flow{'' if flows == 1 else 's'}, "
        f"{accounts} account{'' if accounts == 1 else 's'}; state {state}"
    )


def describe_state(state: StateSettings) -> str:
    """Where sessions and queues are kept: `sqlite <path>`, `memory (lost at exit)`, or
    `redis redis://127.0.0.1:6379/0 (prefix bot:)`, the URL's password masked."""
    if state.backend is StateBackend.SQLITE and state.path is not None:
        return f"sqlite {state.path}"
    if state.backend is StateBackend.MEMORY:
        return "memory (lost at exit)"
    if state.backend is StateBackend.REDIS and state.url:
        from runtime.store.redis_connection import redacted_url

        return f"redis {redacted_url(state.url.reveal())} (prefix {state.prefix})"
    return str(state.backend)


def freeze_long_lived() -> None:
    """Take what lives as long as the server (the Bot, the libraries) out of the GC's walks.

    A full collection of Python's cyclic GC walks every object: with 10,000 flows that is
    170,000 more objects and about 200 ms a collection here, on the event loop. Frozen
    objects are not walked (reference counting still frees them). Everything is unfrozen
    and collected first, so a Bot a reload replaced is not kept.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _stop(app: Sanic[Any, Any]) -> None:
    state = runtime_of(app)
    if state.sighup is not None:
        state.sighup.give_back()
    if state.parent_watch is not None:
        await state.parent_watch.stop()
    if state.reloader is not None:
        await state.reloader.stop()
    # stop taking events, let those in hand finish, let the senders drain, then give back
    # every lease still held: another worker (or the next start) takes it over at once
    if state.worker is not None:
        await state.worker.stop()
    if state.people is not None:  # lookups a reply stopped waiting for
        await state.people.close()
    if state.http is not None:
        await state.http.close()
    if state.sender is not None:
        await state.sender.stop()
    if state.leases is not None:
        await state.leases.stop()
    if state.page_profiles is not None:
        await state.page_profiles.stop()
    if state.client is not None:
        await state.client.close()
    if state.store is not None:
        try:
            released = await state.store.release_leases(state.worker_id)
        except StoreError as err:  # the leases run out on their own: nothing is lost
            logger.error("could not hand back leases: %s", err)
        else:
            if released:
                logger.info("handed back %d unfinished events and replies", released)
        await state.store.close()
    if state.metrics is not None:
        state.metrics.close()


def _accounts_for(bot: Bot, account_id: str | None) -> list[Account] | None:
    if account_id is None:
        return list(bot.accounts.values())
    account = bot.accounts.get(account_id)
    return [account] if account is not None else None


async def _verify(request: Request, account_id: str | None = None) -> HTTPResponse:
    """Meta's subscription handshake: echo `hub.challenge` when the verify token matches."""
    accounts = _accounts_for(runtime_of(request.app).bot, account_id)
    if accounts is None:
        return response.text("unknown account", status=404)
    mode = request.args.get("hub.mode")
    token = request.args.get("hub.verify_token") or ""
    challenge = request.args.get("hub.challenge") or ""
    matches = [
        hmac.compare_digest(account.verify_token.reveal().encode(), token.encode())
        for account in accounts
    ]
    if mode == "subscribe" and any(matches):
        return response.text(challenge)
    logger.warning("webhook verification refused (mode %r, verify token does not match)", mode)
    return response.text("verification failed", status=403)


async def _receive(request: Request, account_id: str | None = None) -> HTTPResponse:
    state = runtime_of(request.app)
    bot = state.bot
    observer = state.observer
    accounts = _accounts_for(bot, account_id)
    if accounts is None:
        observer.webhook(WebhookOutcome.UNKNOWN_ACCOUNT)
        return response.text("unknown account", status=404)
    raw = request.body
    secrets = [account.app_secret for account in accounts if account.app_secret is not None]
    signed_by = matching_secret(raw, request.headers.get(HEADER), secrets)
    # refused before parsing when no entry could make it acceptable: junk costs no JSON parse
    refused = refusal(signed_by, accounts)
    if refused is not None:
        logger.warning("webhook POST refused (403): %s", refused)
        observer.webhook(WebhookOutcome.BAD_SIGNATURE)
        return response.text("bad signature", status=403)
    try:
        body = parse_body(raw)
    except WebhookError as err:
        logger.info("webhook POST refused: %s", err)
        observer.webhook(WebhookOutcome.MALFORMED)
        return response.text(str(err), status=err.status)
    # every entry must be signed with its own account's secret, or nothing of the POST is kept
    routes = {
        page_id: _route(bot, accounts, account_id, page_id) for page_id in entry_page_ids(body)
    }
    refused = refusal(signed_by, accounts, routes)
    if refused is not None:
        logger.warning("webhook POST refused (403): %s", refused)
        observer.webhook(WebhookOutcome.BAD_SIGNATURE)
        return response.text("bad signature", status=403)
    for page_id, routed in routes.items():
        if routed is None:
            logger.info("entry for page %s, which no account has: ignored", page_id)

    now = time.time()
    events: list[NewInbound] = []
    kinds: list[str] = []  # each event's, for the observer once the POST is kept
    for item in page_events(body):
        if not isinstance(item, PageEvent):
            logger.debug("page %s: skipped %s", item.page_id, item.reason)
            kinds.append(SKIPPED)
            continue
        account = routes[item.page_id]  # entry_page_ids gives page_events' ids
        if account is None:
            kinds.append(SKIPPED)
            continue
        try:
            envelope = to_envelope(
                item.event,
                account_id=account.id,
                session_key=partial(session_key, account.agent_id),
                standby=item.standby,
            )
            if isinstance(envelope, str):
                logger.debug("page %s: skipped %s", item.page_id, envelope)
                kinds.append(SKIPPED)
                continue
            inbound = NewInbound(
                account_id=account.id,
                psid=envelope.psid,
                body=envelope.to_json(),
                message_id=envelope.message_id,
                session_key=envelope.session_key,
                # a timestamp from the future must not hold the 24-hour window open, nor
                # one of Meta's thread-control events, which the person did not send
                at=(min(envelope.timestamp, now) or None) if envelope.from_person else None,
            )
        except Exception:  # an event nobody foresaw must not cost the others their 200
            logger.exception("page %s: an event that cannot be read: skipped", item.page_id)
            kinds.append(SKIPPED)
            continue
        events.append(inbound)
        kinds.append(envelope.kind)
    if events and state.store is not None and state.worker is not None:
        try:
            # what may be processed at once is this worker's, in the same transaction
            await state.worker.accept(events, now=now, dedupe_ttl=DEDUPE_TTL)
        except StoreError as err:
            # not kept, so not acknowledged: Meta delivers it again later
            state.refusals.failed(
                err, "webhook POST not kept (%d events), answered 503", len(events)
            )
            observer.webhook(WebhookOutcome.STORE_UNAVAILABLE)
            return response.text("state store unavailable", status=503)
        state.refusals.answered()
    observer.webhook(WebhookOutcome.OK)
    for kind in kinds:
        observer.event(kind)
    return response.text("EVENT_RECEIVED")


def _route(
    bot: Bot, accounts: list[Account], account_id: str | None, page_id: str
) -> Account | None:
    """The account an entry is for: the path's, else the one with that page id.

    With one account and no page ids configured, every entry is that account's.
    """
    if account_id is not None:
        return accounts[0]
    account = bot.accounts_by_page_id.get(page_id)
    if account is None and len(accounts) == 1 and not bot.accounts_by_page_id:
        return accounts[0]
    return account


async def _healthz(request: Request) -> HTTPResponse:
    """200 while this worker serves: after a rejected reload it serves the last good
    version, and `lastReloadError` says why the new one was refused (null once one loads)."""
    state = runtime_of(request.app)
    bot = state.bot
    error = state.reloader.last_error if state.reloader is not None else None
    return response.json(
        {
            "status": "ok",
            "version": bot.version,
            "accounts": len(bot.accounts),
            "lastReloadError": error.as_json() if error is not None else None,
        }
    )


async def _metrics(request: Request) -> HTTPResponse:
    """Prometheus' text format: every worker's counts summed, and what waits in the store
    now (one count each of the inbox, the outbox and the timers)."""
    state = runtime_of(request.app)
    metrics = state.metrics
    if metrics is None:  # pragma: no cover - the route is only added with metrics on
        return response.text("metrics are off (server.metrics)", status=404)
    from runtime.metrics import StoreDepth

    depth = None
    if state.store is not None:
        try:
            depth = StoreDepth(
                inbox=await state.store.count_inbound(),
                outbox=await state.store.count_outbound(),
                timers=await state.store.count_timers(),
            )
        except StoreError as err:  # the other series still say what they know
            logger.warning("/metrics without the inbox, outbox and timer counts: %s", err)
    accept = request.headers.get("accept", "")
    text, content_type = await asyncio.to_thread(metrics.exposition, depth, accept)
    return response.raw(text, content_type=content_type)
