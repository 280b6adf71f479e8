"""PrometheusObserver: the pipeline's Observer as Prometheus series, and `/metrics`' text.

The one module that imports prometheus_client. The series (counters get `_total`):

    runtime_webhooks_total{outcome}              webhook POSTs by answer (`WebhookOutcome`)
    runtime_events_total{kind}                   webhook events kept, by kind, or `skipped`
    runtime_turns_total{flow}                    turns by the flow that answered (or why none)
    runtime_replies_sent_total                   outbox rows sent
    runtime_replies_retried_total                outbox rows failed for now, tried again
    runtime_replies_dead_lettered_total          outbox rows failed for good
    runtime_graph_request_seconds{endpoint}      Graph API request latency (histogram)
    runtime_graph_requests_total{endpoint,status}  Graph API requests by HTTP status
    runtime_graph_batch_calls                    calls per batch request (histogram)
    runtime_reloads_total                        reloads tried
    runtime_reload_failures_total                reloads rejected (the old version serves on)
    runtime_inbox_events                         events accepted, not yet answered
    runtime_outbox_messages                      replies waiting to be sent
    runtime_timers_pending                       timers set, not yet fired
    runtime_bot_version_info{version}            1, for the Bot version this worker serves

Several worker processes (`runtime serve --workers N`) count apart and are read as one:
`runtime serve` points PROMETHEUS_MULTIPROC_DIR at a folder of its own before the workers
start (prometheus_client then keeps every counter in a file per process) and a scrape sums
the files of every worker, those that have ended included. The version and the depths are
no such files: the scraping worker says them as it answers (the depths are counts the store
makes for that scrape, the same whichever worker makes them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.errors import Error
from runtime.metrics_folder import MULTIPROC_ENV
from runtime.observe import WebhookOutcome

# Graph API latency on loopback is ~1 ms, Meta's tens to hundreds; the client's timeout 10 s
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS: Final = (1, 2, 3, 5, 10, 20, 30, 40, 50)  # a batch carries 50 calls at most


@dataclass(frozen=True, slots=True)
class StoreDepth:
    """What waits in the store, counted at scrape time."""

    inbox: int
    outbox: int
    timers: int


class PrometheusObserver:
    """Counts what the pipeline reports; `exposition()` is the text `/metrics` answers.

    In one process its series live in a registry of its own (a test process may hold many
    apps); with PROMETHEUS_MULTIPROC_DIR set (before prometheus_client was imported), in
    that folder, shared with the other workers.
    """

    def __init__(self) -> None:
        self._folder = os.environ.get(MULTIPROC_ENV) or None
        if self._folder is not None and values.ValueClass is values.MutexValue:
            raise Error(
                f"{MULTIPROC_ENV} was set after prometheus_client was imported: this process "
                "would count in memory, unseen by a scrape of the folder"
            )
        # several workers: the series are in files, and a scrape reads them all (below)
        self._registry = CollectorRegistry() if self._folder is None else None
        registry = self._registry
        self._webhooks = Counter(
            "runtime_webhooks",
            "Webhook POSTs, by how they were answered.",
            ["outcome"],
            registry=registry,
        )
        self._events = Counter(
            "runtime_events",
            "Webhook events kept for the worker, by kind; `skipped` for those not kept.",
            ["kind"],
            registry=registry,
        )
        self._turns = Counter(
            "runtime_turns",
            "Turns, by the flow that answered, or why none did.",
            ["flow"],
            registry=registry,
        )
        self._sent = Counter(
            "runtime_replies_sent", "Outbox rows sent to the Graph API.", registry=registry
        )
        self._retried = Counter(
            "runtime_replies_retried",
            "Outbox rows that failed for now and are tried again.",
            registry=registry,
        )
        self._dead = Counter(
            "runtime_replies_dead_lettered",
            "Outbox rows that failed for good, moved to the dead letters.",
            registry=registry,
        )
        self._latency = Histogram(
            "runtime_graph_request_seconds",
            "Graph API request latency, by endpoint (`batch` for a batch request).",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._requests = Counter(
            "runtime_graph_requests",
            "Graph API requests, by endpoint and HTTP status (`transport`: no answer).",
            ["endpoint", "status"],
            registry=registry,
        )
        self._batch_calls = Histogram(
            "runtime_graph_batch_calls",
            "Calls carried by each Graph API batch request.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self._reloads = Counter("runtime_reloads", "Reloads tried.", registry=registry)
        self._reload_failures = Counter(
            "runtime_reload_failures",
            "Reloads rejected; the last good version served on.",
            registry=registry,
        )
        self._state = _ServingState()
        if self._registry is not None:
            self._registry.register(self._state)
        # `labels()` costs more than the count itself: each label set's child is kept
        self._webhooks_by = _Children(self._webhooks)
        for outcome in WebhookOutcome:  # every outcome shows, at 0 until it happens
            self._webhooks_by[(outcome,)]
        self._events_by = _Children(self._events)
        self._turns_by = _Children(self._turns)
        self._latency_by = _Children(self._latency)
        self._requests_by = _Children(self._requests)

    # -- Observer ------------------------------------------------------------------------
    def webhook(self, outcome: WebhookOutcome) -> None:
        self._webhooks_by[(outcome,)].inc()

    def event(self, kind: str) -> None:
        self._events_by[(kind,)].inc()

    def turn(self, flow: str) -> None:
        self._turns_by[(flow,)].inc()

    def replies_sent(self, count: int) -> None:
        self._sent.inc(count)

    def replies_retried(self, count: int) -> None:
        self._retried.inc(count)

    def reply_dead_lettered(self) -> None:
        self._dead.inc()

    def graph_call(self, endpoint: str, seconds: float, status: str) -> None:
        self._latency_by[(endpoint,)].observe(seconds)
        self._requests_by[(endpoint, status)].inc()

    def batch(self, calls: int) -> None:
        self._batch_calls.observe(calls)

    def reload(self, *, ok: bool) -> None:
        self._reloads.inc()
        if not ok:
            self._reload_failures.inc()

    def version(self, version: str) -> None:
        self._state.version = version

    # -- the scrape ----------------------------------------------------------------------
    def exposition(self, depth: StoreDepth | None, accept: str = "") -> tuple[bytes, str]:
        """Every series, in the format the scraper's `Accept` header asks for (Prometheus'
        text format, or OpenMetrics), and its content type. `depth` as counted now (None:
        the store did not answer, and the depth series are left out). Reads files with
        several workers: call it off the event loop."""
        self._state.depth = depth
        encode, content_type = choose_encoder(accept)
        if self._registry is not None:
            return encode(self._registry), content_type
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._folder)  # type: ignore[no-untyped-call]
        registry.register(self._state)
        return encode(registry), content_type

    def close(self) -> None:
        """This process is done counting: with several workers, its live gauges' files go
        (there are none today; a counter's file stays, its counts are still the totals)."""
        if self._folder is not None:
            multiprocess.mark_process_dead(os.getpid(), self._folder)  # type: ignore[no-untyped-call]


_Metric = TypeVar("_Metric", Counter, Histogram)


class _Children(dict[tuple[str, ...], _Metric], Generic[_Metric]):
    """A labelled metric's child for each label set, made on first use."""

    def __init__(self, metric: _Metric) -> None:
        super().__init__()
        self._metric: _Metric = metric

    def __missing__(self, labels: tuple[str, ...]) -> _Metric:
        child: _Metric = self._metric.labels(*labels)
        self[labels] = child
        return child


class _ServingState(Collector):
    """The series this process says at scrape time: its Bot version, the store's depths."""

    def __init__(self) -> None:
        self.version: str | None = None
        self.depth: StoreDepth | None = None

    def collect(self) -> Iterator[Metric]:
        if self.version is not None:
            info = GaugeMetricFamily(
                "runtime_bot_version_info",
                "The Bot version this worker serves (a hash of its files), as a label.",
                labels=["version"],
            )
            info.add_metric([self.version], 1)
            yield info
        depth = self.depth
        if depth is None:
            return
        for name, text, value in (
            ("runtime_inbox_events", "Webhook events accepted, not yet answered.", depth.inbox),
            ("runtime_outbox_messages", "Replies waiting to be sent.", depth.outbox),
            ("runtime_timers_pending", "Timers set, not yet fired.", depth.timers),
        ):
            yield GaugeMetricFamily(name, text, value=value)
