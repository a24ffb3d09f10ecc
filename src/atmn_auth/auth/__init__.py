"""Signing in and keeping keys, shared by the commands and by `AutumnClient`: the sign-in
that ends with fresh keys (`signin`), the login that writes them to `.env` (`login`),
replacing a rejected key (`recovery`), the privacy rule for files that hold keys
(`filemode`), the key in force and revoking one key (`inforce`), an interrupted rotation
(`pending`), and what to say of keys only the dashboard can delete (`dashboard`)."""
