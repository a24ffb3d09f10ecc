"""Talking to Autumn: one HTTP `Session` per command (`session`), the network a user
has (`transport`: proxies, certificate stores, the size cap), and every call of the
contract with one `Organization` type (`autumn`)."""
