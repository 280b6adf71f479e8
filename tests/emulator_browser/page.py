"""EmulatorPage: what a person does on the emulator's page and what they see, for the tests.

Everything waits on a condition (a bubble, a chip, a badge) with a deadline, never a sleep.
Only what a person sees counts: elements on screen, in the thread on screen.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

WAIT = 10.0  # seconds: a turn takes a fraction of one; a slow CI machine gets slack
THREAD = "//section[contains(@class, 'thread') and not(@hidden)]"
SHOWN_THREAD = ".thread:not([hidden])"
TAPPABLE = "*[self::button or self::a]"


class EmulatorPage:
    def __init__(self, driver: WebDriver, origin: str) -> None:
        self.driver = driver
        self.origin = origin

    # -- loading -------------------------------------------------------------------------
    def open(self, width: int, height: int) -> None:
        """Load the page in a `width` x `height` viewport; until its first person listens."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.driver.get("about:blank")
        self.console()  # the logs of earlier pages are not this one's
        self.requested_urls()
        self.driver.get(self.origin + "/emulator")
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.ready"))

    def wait(self, condition: Any, what: str = "") -> Any:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # an element found a moment ago may be gone: the page redraws as events come
        return WebDriverWait(
            self.driver,
            WAIT,
            poll_frequency=0.05,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(lambda _: condition(), message=what)

    # -- what a person sees ----------------------------------------------------------------
    def shown(self, xpath: str) -> list[WebElement]:
        return [item for item in self.driver.find_elements("xpath", xpath) if item.is_displayed()]

    def texts(self, css: str) -> list[str]:
        """The text of each element `css` finds in the conversation on screen, read at once."""
        script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)"
        texts: list[str] = self.driver.execute_script(script, f"{SHOWN_THREAD} {css}")
        return texts

    def bot_texts(self) -> list[str]:
        """The bot's bubbles (text, button template) in the conversation on screen."""
        return self.texts(".row.bot:not(.typing) .bubble")

    def own_texts(self) -> list[str]:
        return self.texts(".bubble.own")

    def chips(self) -> list[str]:
        return self.texts(".chip")

    def wait_bot_text(self, text: str) -> None:
        """Until the bot's bubble saying `text` (or containing it) is on screen."""
        self.wait(
            lambda: any(text in said for said in self.bot_texts()),
            f"no bubble of the bot says {text!r}; it said {self.bot_texts()}",
        )

    def tappable(self, title: str, within: str = THREAD) -> WebElement:
        """The button or link titled `title` on screen (the last one, when several are)."""
        xpath = f"{within}//{TAPPABLE}[normalize-space() = {json.dumps(title)}]"
        found: list[WebElement] = self.wait(
            lambda: self.shown(xpath), f"no {title!r} button or link on screen"
        )
        return found[-1]

    def tap(self, title: str, within: str = THREAD) -> None:
        """Click it; found again if the page redrew it meanwhile."""
        self.wait(lambda: self.tappable(title, within).click() or True, f"cannot tap {title!r}")

    def type(self, text: str) -> None:
        """Type in the composer and press Enter."""
        from selenium.webdriver.common.keys import Keys

        field = self.driver.find_element("id", "composer-text")
        field.send_keys(text + Keys.ENTER)

    # -- people ----------------------------------------------------------------------------
    def add_person(self, name: str, locale: str = "") -> None:
        from selenium.webdriver.support.ui import Select

        self.driver.find_element("id", "person-name").send_keys(name)
        Select(self.driver.find_element("id", "person-locale")).select_by_value(locale)
        self.tap("Add", within="//form[@id='add-person']")
        self.wait(lambda: name in self.driver.find_element("id", "chat-person").text)

    def person(self, name: str) -> WebElement:
        return self.driver.find_element(
            "xpath",
            f"//li[contains(@class, 'person')][.//span[normalize-space() = {json.dumps(name)}]]",
        )

    def select(self, name: str) -> None:
        self.person(name).find_element("css selector", ".person-select").click()
        self.wait(lambda: name in self.driver.find_element("id", "chat-person").text)

    def unread(self, name: str) -> str:
        badge = self.person(name).find_element("css selector", ".badge")
        return str(badge.text) if badge.is_displayed() else ""

    def psid(self, name: str) -> str:
        return str(self.person(name).get_attribute("data-psid"))

    # -- the pairing every new person meets under the quickstart's dmPolicy "pairing" -----
    def start_approved(self, first_name: str = "Ada") -> None:
        """Get Started, the pairing code, the owner's approval, then "hi": the welcome."""
        self.tap("Get Started")
        self.wait_bot_text("Your pairing code is")
        self.tap("Approve (as the page owner)")
        self.wait_bot_text("You're approved! Say hi to start.")
        self.type("hi")
        self.wait_bot_text(f"Hi {first_name}! What do you need?")

    # -- what the browser did --------------------------------------------------------------
    def console(self) -> list[str]:
        """The console's errors since the last look."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] in ("SEVERE", "ERROR")
        ]

    def network(self) -> list[dict[str, Any]]:
        """Chrome's network events since the last look (`Network.requestWillBeSent`...)."""
        events = [
            json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance")
        ]
        return [event for event in events if event["method"].startswith("Network.")]

    def requested_urls(self) -> list[str]:
        """Every URL the browser asked for since the last look."""
        return [
            event["params"]["request"]["url"]
            for event in self.network()
            if event["method"] == "Network.requestWillBeSent"
        ]

    def foreign(self, urls: list[str]) -> list[str]:
        """The URLs of `urls` on another host than the emulator's (data: URLs are none)."""
        mine = urlsplit(self.origin)
        return [
            url for url in urls if urlsplit(url).scheme != "data" and urlsplit(url)[:2] != mine[:2]
        ]
