"""Signing in with OAuth 2.0 and PKCE: the protocol (`flow`), the loopback server the
browser comes back to (`callback`, with its `pages`), and the browser (`browser`)."""
