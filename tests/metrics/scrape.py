"""Reading GET /metrics as Prometheus does, waiting for a series to reach a value, and
what the fake Graph API got to compare with."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.graph_api import FakeGraphAPI


class Scrape:
    """One answer of /metrics, parsed: `value(name, **labels)` is a sample's value, 0
    when no sample has that name and labels; `labels(name)` every label set of a name."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                self.samples[key] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def labels(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for sample, labels in self.samples if sample == name]

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _ in self.samples)

    def total(self, name: str) -> float:
        """The sum of a name's samples over every label set."""
        return sum(value for (sample, _), value in self.samples.items() if sample == name)


def graph_requests(graph: FakeGraphAPI) -> int:
    """HTTP requests the fake Graph API got: single calls, and batch requests (one for the
    calls that were waiting together)."""
    return len([call for call in graph.calls() if call.batch is None]) + graph.batches


def read(response: httpx.Response) -> Scrape:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


async def scrape_until(
    get: Callable[[], Awaitable[httpx.Response]],
    condition: Callable[[Scrape], bool],
    *,
    within: float = 10.0,
) -> Scrape:
    """Scrape until `condition` holds (the counts of a reply that just left may trail the
    Graph API's answer by a moment); fails with the last scrape after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        scrape = read(await get())
        if condition(scrape):
            return scrape
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics never got there:\n{scrape.text}")
        await asyncio.sleep(0.02)


def scrape_until_sync(
    url: str, condition: Callable[[Scrape], bool], *, within: float = 15.0
) -> Scrape:
    """`scrape_until` for a server in another process, each scrape on a new connection."""
    deadline = time.monotonic() + within
    while True:
        scrape = read(httpx.get(url, timeout=5))
        if condition(scrape):
            return scrape
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics never got there:\n{scrape.text}")
        time.sleep(0.05)
