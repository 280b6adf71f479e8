"""The `http` step's tests: a fake business API, and bots whose flows call it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from runtime.dialog.effects import HttpCall
from runtime.http_calls import HttpCaller
from tests.fakes.business_api import FakeBusinessAPI

SECRET = "sk_live_orders_5ecret_0123456789"  # what ORDERS_TOKEN holds in these tests
ENVIRON = {"ORDERS_TOKEN": SECRET}


@pytest.fixture
def api() -> Iterator[FakeBusinessAPI]:
    """A fake business API on a loopback port, recording every request."""
    fake = FakeBusinessAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
async def caller() -> AsyncIterator[HttpCaller]:
    """An HttpCaller whose environment holds ORDERS_TOKEN."""
    async with HttpCaller(environ=ENVIRON) as http:
        yield http


def request(url: str, *, method: str = "GET", timeout: float = 5.0, **fields: object) -> HttpCall:
    """An HttpCall as the engine renders one."""
    return HttpCall(
        method=method,
        url=url,
        timeout=timeout,
        idempotency_key="0123456789abcdef0123456789abcdef",
        where="flows/orders.json5: flows.order.steps.1",
        **fields,  # type: ignore[arg-type]
    )


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[str]:
    """Every log line captured at `level` or above, formatted."""
    return [record.getMessage() for record in caplog.records if record.levelno >= level]
