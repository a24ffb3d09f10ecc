"""What the commands do, as plain functions over injected parts: the `console` (who is
there, what they see, how they answer), `signin` (authorize, choose the organization,
mint: returns keys, writes nothing), `login` (sign in and write), `env`, `logout`,
`recovery` (sign in again after a 401) and the login `report`."""
