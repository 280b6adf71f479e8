"""A bot that sends an image file of its folder, a fake Graph API, and the real server."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from tests.fakes.graph_api import FakeGraphAPI, Recorded
from tests.messenger.conftest import single_page, write_bot


def png(red: int = 30, green: int = 136, blue: int = 229) -> bytes:
    """A valid 1x1 PNG of one colour: another colour, another content (and hash)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


LOGO = png()
FLOWS = """{
  flows: {
    logo: {
      triggers: [{ keywords: ["logo"] }],
      steps: [
        { attachment: { type: "image", file: "../media/logo.png" },
          quick_replies: [{ title: "Thanks", payload: "THANKS" }] },
        { text: "That is our logo." },
      ],
    },
    hello: { triggers: [{ keywords: ["hi"] }, { payload: "THANKS" }], steps: [{ text: "Hello!" }] },
  },
}
"""


def media_bot(directory: Path, messenger: str | None = None, *, logo: bytes = LOGO) -> Path:
    """The bot in `directory` (config, flows/, media/logo.png); its config's path."""
    (directory / "media").mkdir(parents=True, exist_ok=True)
    (directory / "media" / "logo.png").write_bytes(logo)
    return write_bot(directory, messenger or single_page(senderActions="false"), flows=FLOWS)


def uploads(graph: FakeGraphAPI) -> list[Recorded]:
    return graph.calls("me/message_attachments")


def attachment_payloads(graph: FakeGraphAPI, psid: str | None = None) -> list[dict[str, object]]:
    """The attachment payload of each message delivered (to `psid`), in order."""
    return [
        record.json["message"]["attachment"]["payload"]
        for record in graph.messages(psid)
        if "attachment" in record.json["message"]
    ]
