"""Message tags: which ones Meta accepts for a send outside the 24-hour window.

A module of constants alone, so `runtime --help` lists them without importing the Send API.
"""

from __future__ import annotations

# the message tags that still allow a send outside the 24-hour window (late 2026): a person
# replying by hand within 7 days, and subscriptions of pages in Meta's News Page Index
MESSAGE_TAGS = ("HUMAN_AGENT", "NON_PROMOTIONAL_SUBSCRIPTION")
# refused by Meta with error 100 since April 27, 2026; still met in older code and docs
RETIRED_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")
