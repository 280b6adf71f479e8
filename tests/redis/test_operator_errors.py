"""What an operator meets when the Redis store cannot be used: one line naming the URL
(without its password) and what to do, never a traceback; against real redis-servers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.redis_connection import redacted_url
from runtime.store.redis_store import RedisStore
from tests.fakes.processes import free_port
from tests.messenger.conftest import single_page, write_bot
from tests.redis.redis_bots import serve_until_exit, with_redis_state
from tests.redis_servers import RedisServer, redis_binaries, start_server, unique_prefix

PASSWORD = "redis-pw-8c1d"


def person_session(psid: str) -> Session:
    return Session(key=f"agent:main:messenger:dm:{psid}", account_id="default", psid=psid)


def bot_on(tmp_path: Path, url: str) -> Path:
    return with_redis_state(write_bot(tmp_path, single_page()), url, unique_prefix())


def stopped_with(result: subprocess.CompletedProcess[str]) -> str:
    """The one line `runtime serve` stopped with (and it did stop, with no traceback)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_nothing_listening_stops_serve_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = serve_until_exit(bot_on(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{port}/0"))
    assert stopped_with(result) == (
        f"runtime serve: cannot open the Redis store redis://:***@127.0.0.1:{port}/0: the "
        "server does not answer (connection refused: is redis-server running there?)"
    )


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server that wants PASSWORD."""
    server = start_server(tmp_path_factory.mktemp("guarded"), "--requirepass", PASSWORD)
    yield server
    server.stop()


def test_a_wrong_password_is_named_as_such(tmp_path: Path, guarded: RedisServer) -> None:
    url = f"redis://:wrong-{PASSWORD}@127.0.0.1:{guarded.port}/0"
    assert stopped_with(serve_until_exit(bot_on(tmp_path, url))) == (
        f"runtime serve: cannot open the Redis store redis://:***@127.0.0.1:{guarded.port}/0: "
        "the server refused the password (or the user) in state.url"
    )


def test_a_missing_password_says_where_it_goes(tmp_path: Path, guarded: RedisServer) -> None:
    assert stopped_with(serve_until_exit(bot_on(tmp_path, guarded.url))) == (
        f"runtime serve: cannot open the Redis store {guarded.url}: the server wants a "
        "password and state.url has none: redis://:PASSWORD@host:6379/0 (or "
        "redis://USER:PASSWORD@...)"
    )


def test_a_database_the_server_lacks(tmp_path: Path, redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/99"
    assert stopped_with(serve_until_exit(bot_on(tmp_path, url))) == (
        f"runtime serve: cannot open the Redis store {url}: the server has no database 99 (it "
        "has 16, 0 to 15, unless its `databases` setting says otherwise): fix the number after "
        "the last / in state.url"
    )


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = start_server(tmp_path / "primary")
    replica = start_server(tmp_path / "replica", "--replicaof", "127.0.0.1", str(primary.port))
    yield primary, replica
    replica.stop()
    primary.stop()


def test_a_replica_is_refused_at_start(
    tmp_path: Path, primary_and_replica: tuple[RedisServer, RedisServer]
) -> None:
    primary, replica = primary_and_replica
    assert stopped_with(serve_until_exit(bot_on(tmp_path, replica.url))) == (
        f"runtime serve: cannot open the Redis store {replica.url}: the server is a replica "
        f"(of 127.0.0.1:{primary.port}), which takes no writes; point state.url at the primary"
    )


async def test_a_primary_turned_replica_fails_writes_with_the_fix(
    primary_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    """A failover demotes the server the store writes to: each write says so."""
    primary, replica = primary_and_replica
    store = RedisStore(primary.url, prefix=unique_prefix())
    await store.open()
    try:
        await store.save_session(person_session("2000000000000001"))
        _, cli = redis_binaries()
        primary.cli(cli, "replicaof", "127.0.0.1", str(replica.port))
        with pytest.raises(StoreError) as failed:
            await store.save_session(person_session("2000000000000002"))
    finally:
        await store.close()
    assert str(failed.value) == (
        f"cannot save a session in the Redis store {primary.url}: the server is a read-only "
        "replica; point state.url at the primary"
    )


def test_a_url_of_another_scheme_is_a_config_error(tmp_path: Path) -> None:
    url = f"http://:{PASSWORD}@127.0.0.1:6379/0"
    result = serve_until_exit(bot_on(tmp_path, url))
    assert result.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr
    assert (
        "state.url: invalid value: a redis://, rediss:// (TLS) or unix:// URL, such as "
        "redis://localhost:6379/0" in result.stderr
    )


def test_without_redis_py_the_line_says_what_to_install(tmp_path: Path) -> None:
    """A Python where `import redis` fails, as where the redis extra was not installed."""
    hidden = tmp_path / "hide" / "redis"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("redis-py is hidden by the test")\n')
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden.parent), os.getcwd()])}
    assert stopped_with(serve_until_exit(bot_on(tmp_path, url), env)) == (
        f"runtime serve: the Redis store {url.replace(PASSWORD, '***')} needs redis-py: "
        'pip install "messenger-runtime[redis]"'
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://:{PASSWORD}@db:6379/0", "redis://:***@db:6379/0"),
        (f"rediss://bot:{PASSWORD}@db:6380/1", "rediss://bot:***@db:6380/1"),
        (f"redis://{PASSWORD}@db/0", "redis://***@db/0"),  # a password where the user goes
        (f"redis://db:{PASSWORD}/0", "redis://db:***/0"),  # ... or where the port goes
        (
            f"unix:///run/redis.sock?db=2&password={PASSWORD}",
            "unix:///run/redis.sock?db=2&password=***",
        ),
    ],
)
def test_the_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
