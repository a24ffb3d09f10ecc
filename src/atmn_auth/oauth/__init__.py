"""The OAuth 2.0 protocol as Autumn speaks it: the authorization-code request with PKCE,
the server's metadata and the token exchange (`pkce`), and the device grant (`device`).
The loopback server the browser returns to is `atmn_auth.loopback`."""
