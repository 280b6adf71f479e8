"""Which flow an envelope starts: payload, then keywords, then regexes, then attachment type.

Payloads, keywords and attachment types are dict lookups in the Bot's TriggerIndex, so this
costs the same with 10 or 10,000 flows; only the regex triggers are tried one by one, in
file order.

While an `ask` waits, only some triggers are looked at (`find_interrupt`): every payload
trigger (a tap on a menu button still works), and the triggers written with
`interrupt: true` (`{ keywords: ["menu", "stop"], interrupt: true }`), in the same order.
Whether the event answers the ask instead (its own quick reply) is the engine's call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.bot import TriggerIndex, normalize_keyword
from runtime.envelope import Envelope


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """The flow an event starts; `match` holds a regex trigger's named groups."""

    flow: str
    match: dict[str, str | None] = field(default_factory=dict)


def find_start(triggers: TriggerIndex, envelope: Envelope) -> Start | None:
    """The flow a trigger claims for `envelope`, or None (the fallback is the caller's call)."""
    payload = envelope.payload
    if payload is not None and payload in triggers.by_payload:
        return Start(flow=triggers.by_payload[payload])
    text = envelope.text
    if text is not None:
        keyword_flow = triggers.by_keyword.get(normalize_keyword(text))
        if keyword_flow is not None:
            return Start(flow=keyword_flow)
        for pattern, flow in triggers.regexes:
            found = pattern.search(text)
            if found is not None:
                return Start(flow=flow, match=found.groupdict())
    if envelope.attachments:
        attachment_flow = triggers.by_attachment.get(envelope.attachments[0].type)
        if attachment_flow is not None:
            return Start(flow=attachment_flow)
    return None


def find_interrupt(triggers: TriggerIndex, envelope: Envelope) -> Start | None:
    """The flow that takes over from a waiting ask: a payload trigger's, else an
    `interrupt: true` trigger's; None when the event is the ask's to answer."""
    flow = payload_flow(triggers, envelope.payload)
    if flow is not None:
        return Start(flow=flow)
    if triggers.interrupting is None:
        return None
    return find_start(triggers.interrupting, envelope)


def payload_flow(triggers: TriggerIndex, payload: str | None) -> str | None:
    """The flow a payload trigger starts for `payload`, if any."""
    return None if payload is None else triggers.by_payload.get(payload)
