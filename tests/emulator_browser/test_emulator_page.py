"""The emulator's page as a person uses it, in headless Chromium against `runtime emulator`
serving the quickstart: every tap is a signed webhook through the real pipeline.

Each test loads the page afresh (a new person, whose pairing the page's owner button
approves), so they run in any order and on any xdist worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from selenium.webdriver.remote.webdriver import WebDriver

from tests.emulator_browser.conftest import Emulator
from tests.emulator_browser.page import THREAD, EmulatorPage

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "emulator.png"
WELCOME_CHIPS = ["Pricing", "Our products", "Sign up", "Talk to a human"]


def test_the_page_opens_on_the_greeting_get_started_and_ice_breakers(page: EmulatorPage) -> None:
    greeting = page.driver.find_element("css selector", ".thread:not([hidden]) .intro-greeting")
    assert greeting.text == "Hi Ada! Ask us about pricing or our products."
    assert page.tappable("Get Started").tag_name == "button"
    for question in ("How much does it cost?", "What do you make?", "Can I talk to a person?"):
        assert page.tappable(question).is_enabled()
    assert page.console() == []


def test_get_started_gets_a_pairing_code_the_owner_approves_then_hi_gets_the_welcome(
    page: EmulatorPage,
) -> None:
    page.start_approved()

    assert page.own_texts() == ["Get Started", "hi"]
    assert page.chips() == WELCOME_CHIPS
    # the bot marked the message seen before answering
    page.wait(lambda: page.shown(f"{THREAD}//li[contains(@class, 'own')][last()]/p[.='Seen']"))
    assert page.shown(f"{THREAD}//button[.='Get Started']") == []

    page.driver.find_element("id", "photo-button").click()  # an image attachment
    page.wait_bot_text("Nice picture!")
    # the bot's answer is a file it uploads: the stand-in serves it, the page shows it
    loaded = (
        "return [...document.querySelectorAll('.thread:not([hidden]) .row.bot img')]"
        ".map((img) => img.complete && img.naturalWidth > 0 ? img.src : null)"
    )
    pictures = page.wait(
        lambda: (found := page.driver.execute_script(loaded)) and all(found) and found
    )
    assert len(pictures) == 1
    assert pictures[0].startswith(f"{page.origin}/emulator/api/media/")
    assert page.console() == []


def test_a_chip_tap_a_template_button_and_the_menu_each_answer(page: EmulatorPage) -> None:
    page.start_approved()

    page.tap("Pricing")
    page.wait_bot_text("Plans start at 9.90 EUR a month.")
    assert page.own_texts()[-1] == "Pricing"
    assert page.chips() == []  # gone once one is tapped, as in Messenger
    see_plans = page.tappable("See plans")
    assert see_plans.get_attribute("href") == "https://example.com/pricing"
    assert see_plans.get_attribute("target") == "_blank"

    page.tap("Back")  # a postback button of the template
    page.wait(lambda: page.chips() == WELCOME_CHIPS)
    assert page.own_texts()[-1] == "Back"

    page.driver.find_element("id", "menu-button").click()  # the persistent menu
    page.tap("Talk to a human", within="//div[@id='menu-popup']")
    page.wait_bot_text("Someone from our team will answer you here soon.")
    page.wait(lambda: "Handed over to the Page Inbox" in page.texts(".notice"))


def test_a_carousel_shows_its_cards_a_card_button_answers_and_nothing_comes_from_elsewhere(
    page: EmulatorPage, tmp_path: Path
) -> None:
    page.start_approved()
    page.tap("Our products")
    page.wait_bot_text("Here is what we make:")
    page.wait(lambda: page.texts(".card-title") == ["Starter kit", "Pro kit"])
    take_screenshot(page, tmp_path)
    # the cards' pictures are on https://example.com: links to open, not images loaded
    links = page.shown(f"{THREAD}//article//a[.='Image on example.com']")
    assert [link.get_attribute("href") for link in links] == [
        "https://example.com/img/starter.png",
        "https://example.com/img/pro.png",
    ]

    page.tap("Sign up")  # the Starter kit card's postback button
    page.wait_bot_text("What's your email address?")
    page.tap("ada.lovelace@example.com")  # Messenger's user_email quick reply: the address
    page.wait_bot_text("Last thing: how did you hear about us?")
    assert page.chips() == ["A friend", "Social media", "A search engine", "Somewhere else"]

    urls = page.requested_urls()
    assert page.foreign(urls) == []
    assert f"{page.origin}/emulator/static/emulator.js" in urls  # the log saw the page's own
    assert any(url.startswith(f"{page.origin}/emulator/api/events?") for url in urls)


def take_screenshot(page: EmulatorPage, tmp_path: Path) -> None:
    """The README's picture, mid-conversation: docs/emulator.png when
    RUNTIME_UPDATE_SCREENSHOT=1, else a file of the test's own."""
    target = (
        SCREENSHOT
        if os.environ.get("RUNTIME_UPDATE_SCREENSHOT") == "1"
        else tmp_path / "emulator.png"
    )
    page.add_person("Grace Hopper", "fr_FR")  # several people, Ada's conversation on screen
    page.select("Ada Lovelace")
    assert page.driver.save_screenshot(str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_second_person_keeps_their_own_conversation_and_unread_badge(
    page: EmulatorPage, emulator: Emulator
) -> None:
    page.start_approved()
    page.add_person("Grace Hopper", "fr_FR")
    greeting = page.driver.find_element("css selector", ".thread:not([hidden]) .intro-greeting")
    assert greeting.text.startswith("Bonjour Grace !")
    page.tap("Get Started")  # her pairing code and her confirmation come in French
    page.wait_bot_text("Votre code est")
    page.tap("Approve (as the page owner)")
    page.wait_bot_text("C'est bon, vous êtes accepté !")
    page.type("bonjour")
    page.wait_bot_text("Bonjour Grace ! De quoi avez-vous besoin ?")
    assert page.own_texts() == ["Get Started", "bonjour"]

    # Ada writes from elsewhere while Grace is on screen: the page keeps her answer
    ada = page.psid("Ada Lovelace")
    answer = httpx.post(
        f"{emulator.url}/emulator/api/send", json={"psid": ada, "text": "menu"}, timeout=10
    )
    assert answer.json()["status"] == 200
    page.wait(lambda: page.unread("Ada Lovelace") == "1", "no unread badge on Ada")
    assert page.bot_texts()[-1] == "Bonjour Grace ! De quoi avez-vous besoin ?"

    page.select("Ada Lovelace")
    assert page.unread("Ada Lovelace") == ""
    texts = page.bot_texts()
    assert texts.count("Hi Ada! What do you need?") == 2
    assert not any("Grace" in text for text in texts)
    assert page.console() == []


def test_reset_forgets_the_session_and_the_conversation(page: EmulatorPage) -> None:
    page.start_approved()
    page.tap("Sign up")
    page.wait_bot_text("What's your email address?")  # the bot waits for an address

    page.tap("Reset", within="//li[contains(@class, 'person')]")
    page.wait(lambda: page.bot_texts() == [] and page.own_texts() == [])
    assert page.tappable("Get Started").is_displayed()

    page.type("not an address")  # a session still asking would retry; a fresh one falls back
    page.wait_bot_text("Sorry, I didn't get that.")
    assert not any("email" in text for text in page.bot_texts())


def test_a_page_left_for_another_ends_its_long_polls_and_polls_again_when_back(
    page: EmulatorPage,
) -> None:
    """Chrome keeps a page left for another in its back/forward cache, long polls and all:
    each would hold one of its 6 connections to the server for up to 15 s, and a few
    reloads would leave the page's sends waiting. It says so with `pagehide`."""
    polls = {
        event["params"]["requestId"]
        for event in page.network()
        if "/emulator/api/events?" in event["params"].get("request", {}).get("url", "")
    }
    assert polls
    transition = "window.dispatchEvent(new PageTransitionEvent(arguments[0], {persisted: true}))"
    page.driver.execute_script(transition, "pagehide")
    ended: set[str] = set()

    def all_ended() -> bool:
        ended.update(
            event["params"]["requestId"]
            for event in page.network()
            if event["method"] == "Network.loadingFailed" and event["params"].get("canceled")
        )
        return polls <= ended

    page.wait(all_ended, "the long polls of a page left still hold their connections")

    page.driver.execute_script(transition, "pageshow")  # back from the cache
    page.tap("Get Started")
    page.wait_bot_text("Your pairing code is")


def test_a_phone_sized_window_folds_the_people_into_a_drawer(
    browser: WebDriver, emulator: Emulator
) -> None:
    page = EmulatorPage(browser, emulator.url)
    page.open(360, 740)
    assert not page.driver.find_element("id", "people").is_displayed()
    assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 360
    page.driver.find_element("id", "drawer-open").click()
    page.wait(lambda: page.driver.find_element("id", "people").is_displayed())

    page.select("Ada Lovelace")  # choosing a person closes the drawer
    page.wait(lambda: not page.driver.find_element("id", "people").is_displayed())
    assert page.tappable("Get Started").is_displayed()
