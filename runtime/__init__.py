"""A declarative, config-compiled runtime for Facebook Messenger bots."""

__version__ = "0.1.0"
