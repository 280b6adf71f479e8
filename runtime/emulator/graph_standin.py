"""GraphStandIn: the Graph API as the emulator plays it, under `/emulator/graph/{version}/`.

The runtime's own GraphClient, batch sender, profile sync and uploads talk to it unchanged,
as they talk to Meta. It answers:

- the Send API, `POST me/messages` (messages and sender actions), and thread control,
  `POST me/pass_thread_control` / `me/take_thread_control`, singly or in a batch request
  (`POST {version}/`, read by `messenger/batch.py`'s `decode_batch_request`; an operation
  whose `depends_on` parent failed is not run, `null` in the answer, as Meta does). Each
  call becomes an event of its person (`PersonStreams`);
- `GET {psid}?fields=...`, the User Profile API: the name and locale the page registered for
  that person (`{}` for a person it never named, as Meta answers when it may not say);
- `GET/POST/DELETE me/messenger_profile` and `GET/POST me/subscribed_apps`, kept per page;
- `POST me/message_attachments`: an upload (multipart `filedata`, or a URL) gets an
  `attachment_id`; a message that sends one reaches the page with a URL it can show
  (`/emulator/api/media/<id>`, the uploaded bytes).

`me` may also be written as the account's page id. Every call must carry one of the
accounts' page tokens (the emulator's, see settings.py); another gets Meta's error 190.
"""

from __future__ import annotations

import copy
import hmac
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.config.model import Account
from runtime.emulator.settings import API_PATH, page_id_of
from runtime.emulator.streams import PersonStreams
from runtime.emulator.webhooks import new_mid
from runtime.messenger.batch import MalformedBatch, decode_batch_request
from runtime.messenger.endpoints import (
    MESSAGE_ATTACHMENTS,
    MESSAGES,
    MESSENGER_PROFILE,
    PASS_THREAD_CONTROL,
    SUBSCRIBED_APPS,
    TAKE_THREAD_CONTROL,
)

EMULATOR_APP_ID: Final = "1100000000000001"  # the app the stand-in says is subscribed
THREAD_CONTROL: Final = {
    PASS_THREAD_CONTROL: "pass_thread_control",
    TAKE_THREAD_CONTROL: "take_thread_control",
}
_ids = itertools.count(1)

# the pending pairing code of (account id, PSID), if any: marks the message that carries it
PairingCodes = Callable[[str, str], Awaitable[str | None]]
Answer = tuple[int, Any]  # HTTP status, JSON answer


@dataclass(frozen=True, slots=True)
class GraphCall:
    """One HTTP request to the stand-in, read off the wire. `path` follows the version."""

    method: str
    path: str
    query: Mapping[str, str]
    content_type: str
    body: bytes
    form: Mapping[str, str]
    files: Mapping[str, tuple[bytes, str]]  # field name -> (content, content type)


@dataclass(frozen=True, slots=True)
class Person:
    """What the page said of a person: the User Profile API's answer for them."""

    first_name: str
    last_name: str
    locale: str | None = None

    def fields(self, psid: str) -> dict[str, str]:
        known = {
            "id": psid,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": f"{self.first_name} {self.last_name}".strip(),
        }
        if self.locale:
            known["locale"] = self.locale
        return known


@dataclass(frozen=True, slots=True)
class Media:
    """An uploaded attachment: its bytes (a file upload) or the URL it was uploaded from."""

    account_id: str
    content_type: str
    content: bytes | None = None
    url: str | None = None


def graph_error(code: int, message: str, *, status: int = 400) -> Answer:
    """A Graph API error answer, as Meta shapes it."""
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Aemulator"}
    return status, {"error": error}


class GraphStandIn:
    """The Graph API's state for the pages of `accounts()`; answers `GraphCall`s."""

    def __init__(
        self,
        streams: PersonStreams,
        accounts: Callable[[], Mapping[str, Account]],
        *,
        pairing_codes: PairingCodes | None = None,
    ) -> None:
        self._streams = streams
        self._accounts = accounts
        self._pairing_codes = pairing_codes
        self.people: dict[tuple[str, str], Person] = {}
        self.media: dict[str, Media] = {}
        self.profiles: dict[str, dict[str, Any]] = {}  # account id -> Messenger Profile fields
        self.subscriptions: dict[str, list[str]] = {}  # account id -> webhook fields

    async def answer(self, call: GraphCall) -> Answer:
        if call.method == "POST" and not call.path.strip("/"):
            return await self._batch(call)
        account = self._account(call.query.get("access_token"))
        if account is None:
            return _invalid_token()
        path = self._own_path(account, call.path.strip("/"))
        if call.method == "POST" and path in (MESSAGES, *THREAD_CONTROL):
            return await self._send(account, path, _json_object(call.body))
        if path == MESSENGER_PROFILE:
            return self._messenger_profile(account, call)
        if path == SUBSCRIBED_APPS:
            return self._subscribed_apps(account, call)
        if path == MESSAGE_ATTACHMENTS and call.method == "POST":
            return self._upload(account, call)
        if call.method == "GET" and path.isdigit():
            return self._user_profile(account, path, call.query.get("fields", ""))
        return graph_error(2500, f"Unknown path components: /{call.path.strip('/')}")

    # -- the Send API and thread control ------------------------------------------------------
    async def _batch(self, call: GraphCall) -> Answer:
        try:
            request = decode_batch_request(call.content_type, call.body)
        except MalformedBatch as err:
            return graph_error(100, f"(#100) {err}")
        account = self._account(request.token or call.query.get("access_token"))
        if account is None:
            return _invalid_token()
        include_headers = request.fields.get("include_headers", "true").lower() != "false"
        succeeded: set[str] = set()
        results: list[dict[str, Any] | None] = []
        for operation in request.operations:
            if operation.depends_on is not None and operation.depends_on not in succeeded:
                results.append(None)  # its parent failed: Meta does not run it
                continue
            status, payload = await self._send(account, operation.path, operation.body)
            if status < 400 and operation.name is not None:
                succeeded.add(operation.name)
            if status < 400 and operation.omit_response:
                results.append(None)
                continue
            result: dict[str, Any] = {"code": status, "body": json.dumps(payload)}
            if include_headers:
                result["headers"] = [{"name": "Content-Type", "value": "application/json"}]
            results.append(result)
        return 200, results

    async def _send(self, account: Account, path: str, body: Mapping[str, Any]) -> Answer:
        recipient = body.get("recipient")
        psid = recipient.get("id") if isinstance(recipient, Mapping) else None
        if not isinstance(psid, str | int) or not str(psid).isdigit():
            return graph_error(100, "(#100) The parameter recipient is required")
        psid = str(psid)
        if path in THREAD_CONTROL:
            handover = {
                "kind": "handover",
                "action": THREAD_CONTROL[path],
                "target_app_id": body.get("target_app_id"),
                "metadata": body.get("metadata"),
            }
            self._streams.add(account.id, psid, handover)
            return 200, {"success": True}
        action = body.get("sender_action")
        if isinstance(action, str):
            self._streams.add(account.id, psid, {"kind": "sender_action", "action": action})
            return 200, {"recipient_id": psid}
        message = body.get("message")
        if not isinstance(message, Mapping):
            return graph_error(100, "(#100) Must send either message or sender_action")
        if self._foreign_attachment(account, message):
            return graph_error(100, "(#100) The attachment_id is not valid for this page")
        mid = new_mid()
        answer: dict[str, Any] = {"recipient_id": psid, "message_id": mid}
        shown, attachment_id = self._shown(account, message)
        if attachment_id is not None:
            answer["attachment_id"] = attachment_id
        event: dict[str, Any] = {"kind": "message", "message": shown, "mid": mid}
        code = await self._pairing_code(account, psid, shown)
        if code is not None:
            event["pairing_code"] = code
        self._streams.add(account.id, psid, event)
        return 200, answer

    def _foreign_attachment(self, account: Account, message: Mapping[str, Any]) -> bool:
        """Whether the message sends an attachment another page uploaded (Meta refuses it;
        an id the stand-in never gave, from a state kept before, passes)."""
        attachment = message.get("attachment")
        payload = attachment.get("payload") if isinstance(attachment, Mapping) else None
        attachment_id = payload.get("attachment_id") if isinstance(payload, Mapping) else None
        media = self.media.get(str(attachment_id)) if attachment_id is not None else None
        return media is not None and media.account_id != account.id

    def _shown(
        self, account: Account, message: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """The message as the page gets it, and the attachment id the answer gives (a
        reusable attachment sent by URL gets one, as Meta's Send API does). An attachment
        sent by id gets the URL of its bytes beside the id."""
        shown = copy.deepcopy(dict(message))
        attachment = shown.get("attachment")
        if not isinstance(attachment, dict) or attachment.get("type") == "template":
            return shown, None
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            return shown, None
        if "attachment_id" in payload:
            media = self.media.get(str(payload["attachment_id"]))
            if media is not None:
                payload["url"] = media.url or f"{API_PATH}/media/{payload['attachment_id']}"
            return shown, None
        url = payload.get("url")
        if payload.get("is_reusable") is True and isinstance(url, str):
            return shown, self._keep(Media(account.id, str(attachment.get("type")), url=url))
        return shown, None

    async def _pairing_code(
        self, account: Account, psid: str, message: Mapping[str, Any]
    ) -> str | None:
        """The person's pending pairing code, when this message carries it."""
        text = message.get("text")
        if self._pairing_codes is None or not isinstance(text, str):
            return None
        code = await self._pairing_codes(account.id, psid)
        return code if code is not None and code in text else None

    # -- the rest of what the runtime calls ----------------------------------------------------
    def _messenger_profile(self, account: Account, call: GraphCall) -> Answer:
        page = self.profiles.setdefault(account.id, {})
        if call.method == "GET":
            wanted = call.query.get("fields", "").split(",")
            fields = {key: value for key, value in page.items() if key in wanted}
            return 200, {"data": [fields] if fields else []}
        body = _json_object(call.body)
        if call.method == "DELETE":
            for name in body.get("fields") or []:
                page.pop(str(name), None)
            return 200, {"result": "success"}
        if call.method != "POST":
            return graph_error(100, f"(#100) {call.method} is not supported here")
        if body.get("persistent_menu") and "get_started" not in body and "get_started" not in page:
            message = (
                "(#100) You must set a Get Started button if you also wish to use persistent menu."
            )
            return graph_error(100, message)
        page.update(body)
        return 200, {"result": "success"}

    def _subscribed_apps(self, account: Account, call: GraphCall) -> Answer:
        if call.method == "GET":
            fields = self.subscriptions.get(account.id)
            app = {"id": EMULATOR_APP_ID, "name": "Emulator", "subscribed_fields": fields}
            return 200, {"data": [app] if fields is not None else []}
        body = _json_object(call.body)
        wanted = call.query.get("subscribed_fields") or str(body.get("subscribed_fields", ""))
        self.subscriptions[account.id] = [field for field in wanted.split(",") if field]
        return 200, {"success": True}

    def _upload(self, account: Account, call: GraphCall) -> Answer:
        """A file (multipart: `message` and `filedata`) or a URL (JSON: `message`)."""
        if "filedata" in call.files:
            content, content_type = call.files["filedata"]
            media = Media(account.id, content_type or "application/octet-stream", content=content)
            return 200, {"attachment_id": self._keep(media)}
        message = _json_object(call.body).get("message")
        attachment = message.get("attachment") if isinstance(message, Mapping) else None
        payload = attachment.get("payload") if isinstance(attachment, Mapping) else None
        url = payload.get("url") if isinstance(payload, Mapping) else None
        if not isinstance(url, str):
            return graph_error(100, "(#100) Upload a file as filedata, or give payload.url")
        media = Media(account.id, "application/octet-stream", url=url)
        return 200, {"attachment_id": self._keep(media)}

    def _keep(self, media: Media) -> str:
        attachment_id = str(7_000_000_000_000_000 + next(_ids))
        self.media[attachment_id] = media
        return attachment_id

    def _user_profile(self, account: Account, psid: str, fields: str) -> Answer:
        person = self.people.get((account.id, psid))
        wanted = {name for name in fields.split(",") if name}
        if person is None:
            return 200, {"id": psid} if "id" in wanted else {}
        known = person.fields(psid)
        return 200, {name: value for name, value in known.items() if name in wanted}

    # -- tokens ---------------------------------------------------------------------------------
    def _account(self, token: str | None) -> Account | None:
        if not token:
            return None
        found = None
        for account in self._accounts().values():
            if hmac.compare_digest(account.page_access_token.reveal().encode(), token.encode()):
                found = account
        return found

    @staticmethod
    def _own_path(account: Account, path: str) -> str:
        """`{page id}/subscribed_apps` is the page's `me/subscribed_apps`."""
        first, slash, rest = path.partition("/")
        return f"me/{rest}" if slash and first == page_id_of(account) else path


def _invalid_token() -> Answer:
    return graph_error(190, "Invalid OAuth access token - Cannot parse access token")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
