"""RedisConnection: one Redis server (or Cluster), its client, its scripts, its errors.

`state: { backend: "redis", url, prefix }`. The URL is `redis://`, `rediss://` (TLS) or
`unix://`; a password in it (or in its `?password=`) never reaches a log line or an error
(`redacted_url`). A server in cluster mode is found at `open` (`INFO cluster`) and talked to
through redis-py's cluster client; every script of the store touches the keys of one hash
slot (one person's, or the store's global ones: `redis_keys.py`), so the same scripts serve
both. A replica is refused at `open`: the store writes.

Every call goes through `run`, which turns redis-py's errors into a StoreError saying what
the store could not do, and why, in words an operator acts on: nothing listens there, the
password is wrong or missing, the database does not exist, the server is a read-only
replica, the port is not a Redis server's.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from runtime.errors import StoreError
from runtime.store.redis_pipeline import AutoPipeline

T = TypeVar("T")

SCHEMES = ("redis", "rediss", "unix")
CONNECT_TIMEOUT = 5.0  # seconds to reach the server, at start and after it went away
COMMAND_TIMEOUT = 10.0  # seconds a command may take before the store says the server is gone
MASK = "***"
_SECRET_QUERY = frozenset({"password"})  # redis-py reads `?password=` too


def redacted_url(url: str) -> str:
    """The URL without its password (nor a name written where a password may be): printable.

    `redis://:pw@host:6379/0` -> `redis://:***@host:6379/0`; `redis://user:pw@host` ->
    `redis://user:***@host`; `redis://pw@host` (the name alone) -> `redis://***@host`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a Redis URL that cannot be read)"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        userinfo = f"{user}:{MASK}" if colon else MASK
    try:
        parts.port  # noqa: B018 (it raises for a port that is no number: a password?)
    except ValueError:
        host = f"{host.partition(':')[0]}:{MASK}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(name, MASK if name in _SECRET_QUERY else value) for name, value in pairs], safe="*"
        )
    netloc = f"{userinfo}@{host}" if at else host
    shown = f"{parts.scheme}://{netloc}{parts.path}"  # unix:///path keeps its empty host
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _has_password(url: str) -> bool:
    parts = urlsplit(url)
    return parts.password is not None or any(
        name in _SECRET_QUERY for name, _ in parse_qsl(parts.query)
    )


def _database(url: str) -> str:
    """The database number the URL names (`/3`, or `?db=3`), as written."""
    parts = urlsplit(url)
    for name, value in parse_qsl(parts.query):
        if name == "db":
            return value
    return parts.path.strip("/") or "0"


class RedisConnection:
    """The store's Redis: `open`, `run` a call, `script` a Lua script, `close`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redacted_url(url)
        self._client: Any = None
        self._pipeline: AutoPipeline | None = None
        self._in_order: AutoPipeline | None = None  # for `call_in_order`
        self._py: _RedisPy | None = None
        self.cluster = False  # found at `open`: the server runs in cluster mode

    @property
    def client(self) -> Any:
        """redis-py's asyncio client (`Redis` or `RedisCluster`); StoreError when closed."""
        if self._client is None:
            raise StoreError(f"the Redis store at {self.where} is not open")
        return self._client

    async def open(self) -> None:
        """Connect, find whether the server is a cluster, refuse a replica.

        Raises StoreError, one sentence naming the URL without its password, when the store
        cannot be used.
        """
        if self._client is not None:
            return
        opening = f"cannot open the Redis store {self.where}"
        redis = self._redis_py()
        if urlsplit(self.url).scheme not in SCHEMES:
            raise StoreError(
                f"{opening}: state.url must start with redis://, rediss:// (TLS) or unix://"
            )
        options: dict[str, Any] = {
            "decode_responses": True,  # every value the store keeps is text
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": COMMAND_TIMEOUT,
            "health_check_interval": 30,
        }
        try:
            client = redis.Redis.from_url(self.url, **options)
        except ValueError:  # its text may quote the URL: not repeated
            raise StoreError(
                f"{opening}: state.url is not a URL redis-py can read (is the port a number? "
                "redis://host:6379/0)"
            ) from None
        try:
            info = await self._checked(client.info("cluster"), opening)
            if info.get("cluster_enabled") in (1, "1"):
                await client.aclose()
                client = redis.RedisCluster.from_url(self.url, **options)
                await self._checked(client.initialize(), opening)
                self.cluster = True
            else:
                await self._refuse_replica(client, opening)
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        self._pipeline = AutoPipeline(client, redis.exceptions)
        self._in_order = AutoPipeline(client, redis.exceptions, in_order=True)

    async def _refuse_replica(self, client: Any, opening: str) -> None:
        """A replica takes no writes (READONLY), or loses them at its next sync."""
        replication = await self._checked(client.info("replication"), opening)
        if replication.get("role") == "slave":
            primary = f"{replication.get('master_host')}:{replication.get('master_port')}"
            raise StoreError(
                f"{opening}: the server is a replica (of {primary}), which takes no writes; "
                "point state.url at the primary"
            )

    async def close(self) -> None:
        for pipeline in (self._pipeline, self._in_order):
            if pipeline is not None:
                await pipeline.drain()
        self._pipeline = self._in_order = None
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

    def _opened(self, pipeline: AutoPipeline | None) -> AutoPipeline:
        if pipeline is None:
            raise StoreError(f"the Redis store at {self.where} is not open")
        return pipeline

    async def call(
        self, what: str, script: Any, keys: Sequence[str], args: Sequence[object]
    ) -> Any:
        """Run a script made by `script` on these keys (all in one hash slot), in one of the
        store's next pipelines (`redis_pipeline.py`)."""
        return await self.run(what, self._opened(self._pipeline).script(script, keys, args))

    def call_in_order(
        self, what: str, script: Any, keys: Sequence[str], args: Sequence[object]
    ) -> Awaitable[Any]:
        """`call`, its place taken now, before this returns, in a pipeline of its own kind:
        the server runs it after every `call_in_order` made before it (`accept_inbound`
        gives ids in that order)."""
        return self.run(what, self._opened(self._in_order).script(script, keys, args))

    async def command(self, what: str, *args: object) -> Any:
        """Run one command (`"MGET", key, ...`) in one of the store's next pipelines."""
        return await self.run(what, self._opened(self._pipeline).command(*args))

    async def run(self, what: str, call: Awaitable[T]) -> T:
        """Await a redis-py call; its failure is a StoreError: "cannot <what> ...: why"."""
        return await self._checked(call, f"cannot {what} in the Redis store {self.where}")

    async def get_all(self, what: str, keys: Sequence[str]) -> list[str | None]:
        """GET each key (of any slots: not atomic) in one round trip; None where absent."""
        if not keys:
            return []
        pipeline = self.client.pipeline(transaction=False)
        for key in keys:
            pipeline.get(key)
        values: list[str | None] = await self.run(what, pipeline.execute())
        return values

    async def _checked(self, call: Awaitable[T], failed: str) -> T:
        """`call`'s result; redis-py's error as a StoreError, `failed` then why."""
        try:
            return await call
        except (self._redis_py().exceptions.RedisError, OSError) as err:
            raise StoreError(f"{failed}: {self._scrubbed(self._why(err))}") from None

    def _why(self, err: BaseException) -> str:
        """What went wrong, in words an operator acts on."""
        errors = self._redis_py().exceptions
        text = str(err) or type(err).__name__
        if isinstance(err, errors.AuthenticationError):  # a ConnectionError: first
            if _has_password(self.url):
                return "the server refused the password (or the user) in state.url"
            return (
                "the server wants a password and state.url has none: "
                "redis://:PASSWORD@host:6379/0 (or redis://USER:PASSWORD@...)"
            )
        if isinstance(err, errors.BusyLoadingError):
            return "the server is still loading its data into memory: try again in a moment"
        if isinstance(err, errors.NoPermissionError):
            return f"the server's ACL does not let the user in state.url do it ({text})"
        if isinstance(err, errors.ReadOnlyError):
            return "the server is a read-only replica; point state.url at the primary"
        if isinstance(err, errors.ClusterDownError):
            return f"the Redis Cluster is down ({text}): see redis-cli cluster info"
        if isinstance(err, errors.ResponseError):
            if "DB index is out of range" in text or "invalid DB index" in text:
                return (
                    f"the server has no database {_database(self.url)} (it has 16, 0 to 15, "
                    "unless its `databases` setting says otherwise): fix the number after the "
                    "last / in state.url"
                )
            if "SELECT is not allowed in cluster mode" in text:
                return "a Redis Cluster has database 0 only: end state.url with /0"
            return text
        if isinstance(err, errors.InvalidResponse):
            return (
                f"what answers there is no Redis server ({text}): check the host and port "
                "in state.url"
            )
        if isinstance(err, errors.ConnectionError | errors.TimeoutError | OSError):
            return f"the server does not answer ({self._unanswered(err)})"
        return text

    def _unanswered(self, err: BaseException) -> str:
        cause = err if isinstance(err, OSError) else err.__context__
        tls = "; a rediss:// URL needs a server with TLS on" if self._tls else ""
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused: is redis-server running there?"
        if isinstance(cause, FileNotFoundError):
            return "no socket at that path: is redis-server running with that unixsocket?"
        if isinstance(cause, socket.gaierror):
            return f"no address for the host name: {cause.strerror or cause}"
        if isinstance(cause, TimeoutError) or isinstance(
            err, self._redis_py().exceptions.TimeoutError
        ):
            return f"no answer in time{tls}"
        return _reason(err) + tls

    @property
    def _tls(self) -> bool:
        return urlsplit(self.url).scheme == "rediss"

    def _scrubbed(self, text: str) -> str:
        """`text` without the URL's password, should a message ever repeat it."""
        parts = urlsplit(self.url)
        secrets = {parts.password or ""} | {
            value for name, value in parse_qsl(parts.query) if name in _SECRET_QUERY
        }
        for secret in sorted(secrets - {""}, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


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
