"""autumn-local: a stand-in for Autumn's sign-in and key server, for local use and tests."""

__version__ = "0.1.0"
