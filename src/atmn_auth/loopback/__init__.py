"""The loopback server the browser comes back to after signing in: listening on the first
free port of 31448-31452 (`callback`, `connections`), one request at a time in order
(`handler`), the start link that opens the sign-in (`startlink`), the peer checks that
keep other users out (`peers`), a pasted callback address read from the terminal
(`pastes`), the outcome (`settlement`) and the pages the browser shows (`pages`)."""
