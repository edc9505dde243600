"""Fakes for end-to-end tests: a GHL HTTP server on a real socket."""

from .ghl_server import FakeGHL, FakeGHLConfig, RecordedRequest

__all__ = ["FakeGHL", "FakeGHLConfig", "RecordedRequest"]
