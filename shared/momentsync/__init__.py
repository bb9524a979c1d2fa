"""momentsync: keeps Norwegian accounting systems in sync with Moment (the master)."""

__version__ = "0.1.0"
