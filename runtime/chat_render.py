"""The bot's messages as `runtime chat` prints them, what they offer to tap numbered: typing
a number taps that quick reply or button."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runtime.dialog.messages import (
    Button,
    ButtonTemplate,
    GenericTemplate,
    MediaAttachment,
    OutMessage,
    QuickReply,
    TextMessage,
)

BOT: Final = "bot: "
INDENT: Final = " " * len(BOT)


@dataclass(frozen=True, slots=True)
class Choice:
    """A numbered thing to tap: a quick reply or a button of the bot's last messages."""

    reply: QuickReply | None = None
    button: Button | None = None


class ChoiceBoard:
    """The numbered choices of the bot's last messages, and those messages as lines."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir  # a file attachment is shown by its path from here
        self.choices: list[Choice] = []

    def clear(self) -> None:
        """The next message's choices are numbered from 1."""
        self.choices = []

    def render(self, message: OutMessage) -> str:
        """A message as terminal lines; its choices are numbered on from the turn's last one."""
        lines: list[str] = []
        if isinstance(message, TextMessage):
            lines.append(BOT + message.text.replace("\n", "\n" + INDENT))
        elif isinstance(message, ButtonTemplate):
            lines.append(BOT + message.text.replace("\n", "\n" + INDENT))
            lines.extend(self.number_button(button) for button in message.buttons)
        elif isinstance(message, GenericTemplate):
            for index, card in enumerate(message.cards, start=1):
                lines.append(f"{BOT}[card {index}/{len(message.cards)}] {card.title}")
                if card.subtitle:
                    lines.append(INDENT + card.subtitle)
                if card.image_url:
                    lines.append(f"{INDENT}[image] {card.image_url}")
                if card.default_action_url:
                    lines.append(f"{INDENT}(tap opens {card.default_action_url})")
                lines.extend(self.number_button(button) for button in card.buttons)
        elif isinstance(message, MediaAttachment) and message.file is not None:
            lines.append(f"{BOT}[{message.type}: {message.file.shown_from(self.base_dir)}]")
        elif isinstance(message, MediaAttachment):
            lines.append(f"{BOT}[{message.type}] {message.url}")
        lines.extend(self.number_replies(message))
        return "\n".join(lines)

    def number_replies(self, message: OutMessage) -> list[str]:
        """The message's quick replies as choices, numbered on from the last one."""
        lines: list[str] = []
        for reply in message.quick_replies:
            self.choices.append(Choice(reply=reply))
            lines.append(f"  {len(self.choices)}) {_reply_title(reply)}")
        return lines

    def number_button(self, button: Button) -> str:
        self.choices.append(Choice(button=button))
        line = f"  {len(self.choices)}) {button.title}"
        if button.type == "web_url":
            line += f"  (opens {button.url})"
        elif button.type == "phone_number":
            line += f"  (calls {button.payload})"
        return line


def _reply_title(reply: QuickReply) -> str:
    if reply.content_type == "user_email":
        return "(your email address)"
    if reply.content_type == "user_phone_number":
        return "(your phone number)"
    return reply.title or ""
