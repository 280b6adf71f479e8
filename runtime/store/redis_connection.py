"""RedisConnection: one Redis server (or Cluster), its client, its scripts, its errors.

`state: { backend: "redis", url, prefix }`. The URL is `redis://`, `rediss://` (TLS) or
`unix://`; a password in it never reaches a log line or an error (`redacted_url`). A server
in cluster mode is found at `open` (`INFO cluster`) and talked to through redis-py's
cluster client; every script of the store touches the keys of one hash slot (one person's,
or the store's global ones: `redis_keys.py`), so the same scripts serve both.

Every call goes through `run`, which turns redis-py's errors into a StoreError saying what
the store could not do, and why, in words an operator acts on: the server is down, the
password is wrong, the database does not exist, the server is a read-only replica.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

from runtime.errors import StoreError

T = TypeVar("T")

SCHEMES = ("redis", "rediss", "unix")
CONNECT_TIMEOUT = 5.0  # seconds to reach the server, at start and after it went away
COMMAND_TIMEOUT = 10.0  # seconds a command may take before the store says the server is gone


def redacted_url(url: str) -> str:
    """The URL without its password (and without a username's secret part): safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable Redis URL)"
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    netloc = f"{user}:***@{host}" if user else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisConnection:
    """The store's Redis: `open`, `run` a call, `script` a Lua script, `close`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redacted_url(url)
        self._client: Any = None
        self._py: _RedisPy | None = None
        self.cluster = False  # found at `open`: the server runs in cluster mode

    @property
    def client(self) -> Any:
        """redis-py's asyncio client (`Redis` or `RedisCluster`); StoreError when closed."""
        if self._client is None:
            raise StoreError(f"the Redis store at {self.where} is not open")
        return self._client

    async def open(self) -> None:
        if self._client is not None:
            return
        redis = self._redis_py()
        scheme = urlsplit(self.url).scheme
        if scheme not in SCHEMES:
            raise StoreError(
                f"cannot open the Redis store {self.where}: the URL must start with redis://, "
                "rediss:// (TLS) or unix://"
            )
        options: dict[str, Any] = {
            "decode_responses": True,  # every value the store keeps is text
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": COMMAND_TIMEOUT,
            "health_check_interval": 30,
        }
        client = redis.Redis.from_url(self.url, **options)
        try:
            info = await self._checked(client.info("cluster"), "connect")
            if info.get("cluster_enabled") in (1, "1"):
                await client.aclose()
                client = redis.RedisCluster.from_url(self.url, **options)
                await self._checked(client.initialize(), "connect to the cluster")
                self.cluster = True
        except BaseException:
            await client.aclose()
            raise
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _redis_py(self) -> _RedisPy:
        if self._py is None:
            self._py = _redis_module(self.where)
        return self._py

    def script(self, lua: str) -> Any:
        """A Lua script, run atomically on one hash slot: `await self.call(script, keys, args)`."""
        return self.client.register_script(lua)

    async def call(
        self, what: str, script: Any, keys: Sequence[str], args: Sequence[object]
    ) -> Any:
        """Run a script made by `script` on these keys (all in one hash slot)."""
        return await self.run(what, script(keys=list(keys), args=list(args)))

    async def run(self, what: str, call: Awaitable[T]) -> T:
        """Await a redis-py call; its failure is a StoreError: "cannot <what> ...: why"."""
        return await self._checked(call, what)

    async def _checked(self, call: Awaitable[T], what: str) -> T:
        exceptions = self._redis_py().exceptions
        try:
            return await call
        except exceptions.AuthenticationError as err:
            raise StoreError(
                f"cannot {what} in the Redis store {self.where}: the server refused the "
                f"password (or the user) in state.url ({err})"
            ) from None
        except exceptions.ReadOnlyError:
            raise StoreError(
                f"cannot {what} in the Redis store {self.where}: the server is a read-only "
                "replica; point state.url at the primary"
            ) from None
        except exceptions.ResponseError as err:
            if "DB index is out of range" in str(err) or "invalid DB index" in str(err):
                raise StoreError(
                    f"cannot {what} in the Redis store {self.where}: the server has no such "
                    "database (the number after the last / in state.url)"
                ) from None
            raise StoreError(f"cannot {what} in the Redis store {self.where}: {err}") from None
        except (exceptions.ConnectionError, exceptions.TimeoutError, OSError) as err:
            raise StoreError(
                f"cannot {what} in the Redis store {self.where}: the server does not answer "
                f"({_reason(err)})"
            ) from None
        except exceptions.RedisError as err:
            raise StoreError(f"cannot {what} in the Redis store {self.where}: {err}") from None


def _reason(err: BaseException) -> str:
    """Why a connection failed, without the URL redis-py may repeat in its message."""
    text = str(err) or type(err).__name__
    return text.split(". ", 1)[-1] if text.startswith("Error ") else text


class _RedisPy(NamedTuple):
    """The parts of redis-py the store uses (an optional dependency: the `redis` extra)."""

    Redis: Any
    RedisCluster: Any
    exceptions: Any


def _redis_module(where: str) -> _RedisPy:
    """redis-py's asyncio clients; a StoreError saying how to install it when it is not."""
    try:
        import redis.asyncio
        import redis.asyncio.cluster
        import redis.exceptions
    except ImportError:
        raise StoreError(
            f'the Redis store {where} needs redis-py: pip install "messenger-runtime[redis]"'
        ) from None
    return _RedisPy(redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster, redis.exceptions)
