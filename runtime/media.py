"""AttachmentIds: the page's attachment id for each file the flows send, uploaded once.

Meta sends an uploaded file again by its id (`payload: {"attachment_id": ...}`), to anyone,
for 90 days, and only for the page that uploaded it (FACTS-2026 §5). So an id is kept by
(page, content hash): in this process first, then in the store, which the workers and
restarts share, for a little under 90 days, so that a file is uploaded again before Meta
forgets its id. Ten messages with the same new file leaving at once make one upload (a lock
per page and content); another page uploads its own. The page is the account's `pageId`
(its id when none is set), so an account pointed at another page never sends the ids of
the page it had.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from runtime.config.model import Account
from runtime.errors import GraphAPIError, GraphUnavailableError, PermanentSendError, StoreError
from runtime.messenger.endpoints import MESSAGE_ATTACHMENTS
from runtime.messenger.graph import GraphClient, Upload
from runtime.messenger.payloads import FileReference
from runtime.store.base import Store
from runtime.validation.problems import os_reason

logger = logging.getLogger("runtime.media")

ATTACHMENT_ID_TTL: Final = 89 * 24 * 3600.0  # Meta forgets an id after 90 days: renew earlier
CACHE_KIND: Final = "attachment"

_Key = tuple[str, str]  # (the page, as `_page` names it; sha256 of the content)


class AttachmentIds:
    """Finds, or uploads for, the attachment id of a file as one account's page."""

    def __init__(
        self,
        client: GraphClient,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        ttl: float = ATTACHMENT_ID_TTL,
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._known: dict[_Key, tuple[str, float]] = {}  # -> (attachment id, good until)
        self._locks: dict[_Key, asyncio.Lock] = {}

    async def attachment_id(self, account: Account, file: FileReference, *, pool: int = 0) -> str:
        """The id `account`'s page sends `file` with; uploaded now if none is known.

        The id is kept by the hash the flows were compiled with. If the file has changed
        since, what is there now is uploaded (and kept under its own hash): a reload then
        makes it the compiled one.

        Raises GraphAPIError: the upload's (its message names the file; `retryable` as the
        Graph API said), or PermanentSendError when the file cannot be read.
        """
        key = (_page(account), file.sha256)
        known = self._remembered(key)
        if known is not None:
            return known
        async with self._locks.setdefault(key, asyncio.Lock()):
            known = self._remembered(key) or await self._cached(key)
            if known is not None:
                return known
            content = await _read(file)
            digest = hashlib.sha256(content).hexdigest()
            if digest != file.sha256:
                logger.warning(
                    "%s changed since the flows were compiled: sending what it holds now",
                    file.path,
                )
                key = (_page(account), digest)
                known = self._remembered(key) or await self._cached(key)
                if known is not None:
                    return known
            return await self._upload(account, file, content, key, pool=pool)

    def _remembered(self, key: _Key) -> str | None:
        entry = self._known.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._known[key]
            return None
        return entry[0]

    async def _cached(self, key: _Key) -> str | None:
        """The id the store keeps (another worker's upload, or one before a restart)."""
        try:
            value = await self._store.cache_get(CACHE_KIND, _cache_key(key), now=self._clock())
        except StoreError as err:  # not worth failing a send for: upload instead
            logger.warning("the stored attachment ids cannot be read (%s): uploading", err)
            return None
        if value is None:
            return None
        try:
            entry = json.loads(value)
            attachment_id, uploaded_at = str(entry["attachment_id"]), float(entry["uploaded_at"])
        except (ValueError, TypeError, KeyError):
            return None  # not ours to read: upload again
        self._known[key] = (attachment_id, uploaded_at + self._ttl)
        return attachment_id

    async def _upload(
        self, account: Account, file: FileReference, content: bytes, key: _Key, *, pool: int
    ) -> str:
        message = {"attachment": {"type": file.type, "payload": {"is_reusable": True}}}
        fields = {"message": json.dumps(message, separators=(",", ":"))}
        upload = Upload("filedata", Path(file.path).name, file.mime, content)
        try:
            answer = await self._client.upload(
                account, MESSAGE_ATTACHMENTS, fields, upload, pool=pool
            )
        except GraphAPIError as err:
            err.args = (f"uploading {file.path} failed: {err}",)
            raise
        attachment_id = answer.get("attachment_id")
        if not isinstance(attachment_id, str | int) or isinstance(attachment_id, bool):
            raise GraphUnavailableError(
                f"uploading {file.path}: the Graph API answered without an attachment_id"
            )
        attachment_id = str(attachment_id)
        now = self._clock()
        self._known[key] = (attachment_id, now + self._ttl)
        value = json.dumps({"attachment_id": attachment_id, "uploaded_at": now})
        try:
            await self._store.cache_put(CACHE_KIND, _cache_key(key), value, now=now, ttl=self._ttl)
        except StoreError as err:  # kept in this process all the same
            logger.warning("the attachment id of %s cannot be stored: %s", file.path, err)
        logger.info(
            "account %s: uploaded %s (%s, %d bytes) as attachment %s",
            account.label,
            file.path,
            file.mime,
            len(content),
            attachment_id,
        )
        return attachment_id


def _page(account: Account) -> str:
    """Whose attachment ids these are: the page's, by its id when the config gives it."""
    return f"page {account.page_id}" if account.page_id else f"account {account.id}"


def _cache_key(key: _Key) -> str:
    return f"{key[0]}:{key[1]}"


async def _read(file: FileReference) -> bytes:
    try:
        return await asyncio.to_thread(Path(file.path).read_bytes)
    except OSError as err:
        raise PermanentSendError(
            f"the attachment file {file.path} cannot be read: {os_reason(err)}; it was there"
            " when the flows were compiled: put it back, then `runtime outbox retry` the"
            " message",
            sent=False,
        ) from None
