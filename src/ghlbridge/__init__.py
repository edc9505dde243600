"""ghlbridge: a self-hosted GoHighLevel integration engine."""

__version__ = "0.1.0"
