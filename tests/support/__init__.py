"""Helpers for tests: a scripted browser for the sign-in pages, and server fixtures' objects."""
