"""EmulatorSettings: how emulator mode changes a server: its Graph API, its state, its tokens.

In emulator mode the runtime talks to the Graph API stand-in served by the same server
(`/emulator/graph/`), so nothing reaches Meta. Each build of the config (at start and at every
reload) is adjusted the same way: the Graph API base is the stand-in's, every page token is an
emulator token of its account (a real token never travels, and the stand-in tells the
accounts apart by their tokens), and `runtime emulator` also gets a state of its own and an
app secret where the config has none, so the webhook's signature check runs as in production.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from runtime.config.model import Account, Config, StateSettings
from runtime.secret import Secret

PAGE_PATH: Final = "/emulator"
API_PATH: Final = "/emulator/api"
GRAPH_PATH: Final = "/emulator/graph"  # the stand-in's `{base}`: `{base}/{version}/me/messages`
LOOPBACK_NAMES: Final = frozenset({"localhost"})
# a page id for an account whose config names none (Meta's ids are 15 or 16 digits)
STAND_IN_PAGE_ID: Final = "100000000000000"


def is_loopback(host: str) -> bool:
    """`127.0.0.1`, any of 127.0.0.0/8, `::1` (bracketed or not) and `localhost`."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_of(sock: socket.socket) -> str:
    """`http://127.0.0.1:8080` (or `http://[::1]:8080`): where a listening socket answers."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def page_id_of(account: Account) -> str:
    """The page id the emulator's webhooks carry for `account`."""
    return account.page_id or STAND_IN_PAGE_ID


def emulator_token(account_id: str) -> Secret:
    return Secret(f"emulator-page-token-{account_id}")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorSettings:
    """What emulator mode needs to know before the app is built.

    `origin` is the server's own address (the socket is bound first, so it is known);
    `state` replaces the config's (None: the config's); `offline` builds a config that lacks
    tokens or secrets (`runtime emulator`), filling a missing appSecret with an emulator one;
    `account_id` shows one account only on the page (None: every account).
    """

    origin: str
    state: StateSettings | None = None
    offline: bool = False
    account_id: str | None = None

    @property
    def graph_base(self) -> str:
        return self.origin + GRAPH_PATH

    @property
    def page_url(self) -> str:
        return self.origin + PAGE_PATH

    def adjust(self, config: Config) -> Config:
        """The config as emulator mode serves it (see the module's docstring)."""
        accounts: Mapping[str, Account] = MappingProxyType(
            {key: self._account(account) for key, account in config.accounts.items()}
        )
        return dataclasses.replace(
            config,
            accounts=accounts,
            graph=dataclasses.replace(config.graph, api_base=self.graph_base),
            state=self.state or config.state,
        )

    def _account(self, account: Account) -> Account:
        app_secret = account.app_secret
        if app_secret is None and self.offline:
            app_secret = Secret(f"emulator-app-secret-{account.id}")
        return dataclasses.replace(
            account, page_access_token=emulator_token(account.id), app_secret=app_secret
        )
