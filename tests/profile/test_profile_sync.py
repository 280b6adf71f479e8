"""`runtime profile sync` against the fake Graph API: the diff, one write, then "up to date"."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.messenger.endpoints import MESSENGER_PROFILE, SUBSCRIBED_APPS
from runtime.profile_sync import WEBHOOK_FIELDS
from tests.fakes.graph_api import FakeGraphAPI
from tests.profile.conftest import SHOP_TOKEN, TOKEN, ProfileBot

GREETING = [
    {"locale": "default", "text": "Hi {{user_first_name}}!"},
    {"locale": "fr_FR", "text": "Bonjour {{user_first_name}} !"},
]
ICE_BREAKERS = [
    {
        "locale": "default",
        "call_to_actions": [{"question": "What are your hours?", "payload": "HOURS"}],
    }
]
MENU = [
    {
        "locale": "default",
        "composer_input_disabled": False,
        "call_to_actions": [
            {"type": "postback", "title": "Pricing", "payload": "PRICING"},
            {"type": "web_url", "title": "Website", "url": "https://example.com/shop"},
        ],
    }
]
WANTED = {
    "get_started": {"payload": "GET_STARTED"},
    "greeting": GREETING,
    "ice_breakers": ICE_BREAKERS,
    "persistent_menu": MENU,
}


@pytest.fixture(autouse=True)
def _graph(graph: FakeGraphAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENGER_GRAPH_API_BASE", graph.base_url)
    monkeypatch.delenv("MESSENGER_PAGE_ACCESS_TOKEN", raising=False)


def writes(graph: FakeGraphAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """The calls that change a page: (method, endpoint, body)."""
    return [(r.method, r.endpoint, r.json) for r in graph.calls() if r.method != "GET"]


def subscribe_all(graph: FakeGraphAPI, token: str = TOKEN) -> None:
    graph.subscriptions[token] = list(WEBHOOK_FIELDS)


def test_a_new_page_gets_the_profile_in_one_post_and_the_diff_is_printed(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write()
    subscribe_all(graph)
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'default':",
        '  get_started: (not set) -> "GET_STARTED"',
        '  greeting[default]: (not set) -> "Hi {{user_first_name}}!"',
        '  greeting[fr_FR]: (not set) -> "Bonjour {{user_first_name}} !"',
        '  ice_breakers[default]: (not set) -> "What are your hours?" (HOURS)',
        "  persistent_menu[default]: (not set) -> Pricing (PRICING) | Website"
        " (https://example.com/shop)",
        "  written: get_started, greeting, ice_breakers, persistent_menu",
    ]
    assert writes(graph) == [("POST", MESSENGER_PROFILE, WANTED)]
    assert graph.page_profiles[TOKEN] == WANTED
    [asked] = graph.calls(MESSENGER_PROFILE, method="GET")
    assert asked.query["fields"] == "get_started,greeting,ice_breakers,persistent_menu"


def test_a_second_run_is_up_to_date_and_writes_nothing(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write()
    bot.run(capsys, "profile", "sync")
    graph.requests.clear()
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'default': up to date (get_started, greeting, ice_breakers, persistent_menu;"
        " webhook fields subscribed)"
    ]
    assert writes(graph) == []
    assert [(r.method, r.endpoint) for r in graph.calls()] == [
        ("GET", MESSENGER_PROFILE),
        ("GET", SUBSCRIBED_APPS),
    ]


def test_only_the_changed_field_is_posted_and_old_new_are_shown_by_locale(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    subscribe_all(graph)
    graph.page_profiles[TOKEN] = {
        **WANTED,
        "greeting": [
            {"locale": "default", "text": "Hello!"},
            {"locale": "fr_FR", "text": "Bonjour {{user_first_name}} !"},
            {"locale": "es_ES", "text": "Hola"},
        ],
    }
    bot.write()
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'default':",
        '  greeting[default]: "Hello!" -> "Hi {{user_first_name}}!"',
        '  greeting[es_ES]: "Hola" -> (removed)',
        "  written: greeting",
    ]
    assert writes(graph) == [("POST", MESSENGER_PROFILE, {"greeting": GREETING})]


def test_null_deletes_a_field_and_an_unmentioned_field_is_left_alone(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    subscribe_all(graph)
    domains = ["https://example.com"]
    graph.page_profiles[TOKEN] = {**WANTED, "whitelisted_domains": domains}
    bot.write('{ greeting: "Welcome!", iceBreakers: null, getStarted: null }')
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'default':",
        '  get_started: "GET_STARTED" -> (deleted)',
        '  greeting[default]: "Hi {{user_first_name}}!" -> "Welcome!"',
        '  greeting[fr_FR]: "Bonjour {{user_first_name}} !" -> (removed)',
        '  ice_breakers: default: "What are your hours?" (HOURS) -> (deleted)',
        "  written: greeting, get_started, ice_breakers",
    ]
    assert writes(graph) == [
        ("POST", MESSENGER_PROFILE, {"greeting": [{"locale": "default", "text": "Welcome!"}]}),
        ("DELETE", MESSENGER_PROFILE, {"fields": ["get_started", "ice_breakers"]}),
    ]
    page = graph.page_profiles[TOKEN]
    assert page["persistent_menu"] == MENU  # not in the config: left as it was
    assert page["whitelisted_domains"] == domains
    assert "ice_breakers" not in page
    assert "get_started" not in page


def test_a_field_set_to_null_that_the_page_lacks_needs_no_call(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    subscribe_all(graph)
    bot.write("{ whitelistedDomains: null }")
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert (code, writes(graph)) == (0, [])
    assert "up to date (whitelisted_domains;" in out


def test_what_meta_adds_or_reorders_is_not_a_difference(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """One element per field in `data`, locales in another order, ice breakers in the old
    format, a default webview_height_ratio and a trailing slash Meta added: all the same."""
    subscribe_all(graph)
    bot.write(
        '{ getStarted: "GET_STARTED", greeting: { default: "Hi!", fr_FR: "Salut" },'
        ' iceBreakers: [{ question: "Hours?", payload: "HOURS" }],'
        ' persistentMenu: [{ title: "Website", url: "https://example.com/shop" }],'
        ' whitelistedDomains: ["https://Example.com"] }'
    )
    graph.reply_next_to(
        MESSENGER_PROFILE,
        json={
            "data": [
                {"get_started": {"payload": "GET_STARTED"}},
                {
                    "greeting": [
                        {"locale": "fr_FR", "text": "Salut"},
                        {"locale": "default", "text": "Hi!"},
                    ]
                },
                {"ice_breakers": [{"question": "Hours?", "payload": "HOURS"}]},
                {
                    "persistent_menu": [
                        {
                            "locale": "default",
                            "call_to_actions": [
                                {
                                    "type": "web_url",
                                    "title": "Website",
                                    "url": "https://example.com/shop/",
                                    "webview_height_ratio": "full",
                                }
                            ],
                        }
                    ]
                },
                {"whitelisted_domains": ["https://example.com/"]},
            ]
        },
    )
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.startswith("account 'default': up to date")
    assert writes(graph) == []


def test_dry_run_prints_the_diff_and_writes_nothing(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ getStarted: "GET_STARTED" }')
    code, out, _err = bot.run(capsys, "profile", "sync", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "account 'default':",
        '  get_started: (not set) -> "GET_STARTED"',
        f"  webhook: the app was not subscribed to {', '.join(WEBHOOK_FIELDS)}: would subscribe"
        " (this is why a bot receives nothing)",
        "  nothing written",
    ]
    assert writes(graph) == []
    assert graph.page_profiles[TOKEN] == {}


def test_check_exits_1_on_drift_and_0_once_the_page_matches(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write()
    subscribe_all(graph)
    code, _out, err = bot.run(capsys, "profile", "sync", "--check")
    assert code == 1
    assert err == (
        "runtime profile sync --check: 1 page differs from the config; `runtime profile sync`"
        " updates them\n"
    )
    assert writes(graph) == []
    assert bot.run(capsys, "profile", "sync")[0] == 0
    code, out, _err = bot.run(capsys, "profile", "sync", "--check")
    assert code == 0
    assert "up to date" in out


def test_missing_webhook_fields_are_added_to_those_the_app_has(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    graph.subscriptions[TOKEN] = ["messages", "messaging_postbacks", "feed"]
    bot.write(None)  # no profile: the subscription is still checked
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'default':",
        "  webhook: the app was not subscribed to messaging_optins, messaging_referrals,"
        " messaging_handovers, standby: subscribed (without them the bot misses those events)",
        "  written",
    ]
    assert writes(graph) == [
        (
            "POST",
            SUBSCRIBED_APPS,
            {
                "subscribed_fields": "messages,messaging_postbacks,feed,messaging_optins,"
                "messaging_referrals,messaging_handovers,standby"
            },
        )
    ]
    assert graph.calls(MESSENGER_PROFILE) == []  # no profile in the config: not even read


def test_an_app_not_subscribed_at_all_is_told_why_it_received_nothing(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(None)
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert (
        f"the app was not subscribed to {', '.join(WEBHOOK_FIELDS)}: subscribed (this is why a"
        " bot receives nothing)"
    ) in out
    assert graph.subscriptions[TOKEN] == list(WEBHOOK_FIELDS)


def test_a_graph_error_names_the_call_and_the_next_run_finishes(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    subscribe_all(graph)
    graph.page_profiles[TOKEN] = {"whitelisted_domains": ["https://old.example"]}
    bot.write('{ getStarted: "GET_STARTED", whitelistedDomains: null }')
    graph.reply_next_to(MESSENGER_PROFILE, json=None)  # the GET as Meta answers it
    graph.error_next(
        100,
        subcode=2018145,
        message="(#100) Param get_started[payload] is invalid",
        endpoint=MESSENGER_PROFILE,
    )
    code, out, err = bot.run(capsys, "profile", "sync")
    assert code == 1
    assert out.splitlines()[-1] == (
        "  failed: POST me/messenger_profile (get_started): (#100/2018145) Param"
        " get_started[payload] is invalid"
    )
    assert err == (
        "runtime profile sync: 1 page not synced; running it again finishes what is left\n"
    )
    assert [r.method for r in graph.calls(MESSENGER_PROFILE)] == ["GET", "POST"]  # no DELETE
    assert TOKEN not in out + err

    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines()[-1] == "  written: get_started, whitelisted_domains"
    assert graph.page_profiles[TOKEN] == {"get_started": {"payload": "GET_STARTED"}}


def test_a_rate_limit_is_said_plainly(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ getStarted: "GET_STARTED" }')
    graph.error_next(
        613,
        message="(#613) Calls to this API have exceeded the rate limit.",
        endpoint=MESSENGER_PROFILE,
    )
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 1
    assert out.splitlines() == [
        "account 'default':",
        "  failed: GET me/messenger_profile: refused for too many calls ((#613) Calls to this API"
        " have exceeded the rate limit.); Meta allows 10 Messenger Profile calls per 10 minutes"
        " a page: nothing more was written; sync again in 10 minutes",
    ]
    assert writes(graph) == []


def test_every_account_s_page_is_synced_with_its_own_token_or_one_with_account(
    bot: ProfileBot, graph: FakeGraphAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    subscribe_all(graph)
    subscribe_all(graph, SHOP_TOKEN)
    bot.write(
        '{ getStarted: "GET_STARTED" }',
        extra=f'accounts: {{ main: {{ pageId: "1" }}, shop: {{ pageId: "2",'
        f' pageAccessToken: "{SHOP_TOKEN}", profile: {{ getStarted: "HOURS" }} }} }}',
    )
    code, out, _err = bot.run(capsys, "profile", "sync", "--account", "shop")
    assert code == 0
    assert out.splitlines()[1] == '  get_started: (not set) -> "HOURS"'
    assert {call.token for call in graph.calls()} == {SHOP_TOKEN}
    code, out, _err = bot.run(capsys, "profile", "sync")
    assert code == 0
    assert out.splitlines() == [
        "account 'main':",
        '  get_started: (not set) -> "GET_STARTED"',
        "  written: get_started",
        "account 'shop': up to date (get_started; webhook fields subscribed)",
    ]
    assert graph.page_profiles[TOKEN] == {"get_started": {"payload": "GET_STARTED"}}
    assert graph.page_profiles[SHOP_TOKEN] == {"get_started": {"payload": "HOURS"}}


def test_an_unknown_account_is_named_with_those_there_are(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write()
    code, _out, err = bot.run(capsys, "profile", "sync", "--account", "shop")
    assert code == 1
    assert err == "runtime profile sync: no account 'shop' in the config; it has: default\n"
