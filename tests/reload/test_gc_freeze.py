"""The long-lived objects are frozen out of the GC's walks, and a reload keeps nothing old."""

from __future__ import annotations

import gc
import weakref

from runtime.server import freeze_long_lived


class Node:
    """Stands for a Bot: an object graph with reference cycles (Jinja environments have them)."""

    def __init__(self) -> None:
        self.itself = self


def test_what_a_reload_replaced_is_collected_when_freezing_again() -> None:
    old = Node()
    replaced = weakref.ref(old)
    try:
        freeze_long_lived()  # at start: the Bot is frozen
        assert gc.get_freeze_count() > 0
        del old  # a reload swapped it out and the last turn holding it ended
        gc.collect()
        assert replaced() is not None  # frozen, and in a cycle: the GC leaves it alone
        freeze_long_lived()  # some seconds after the reload
        assert replaced() is None
    finally:
        gc.unfreeze()
