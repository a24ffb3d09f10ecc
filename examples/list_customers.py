"""List your Autumn customers with the key `atmn login` wrote to the nearest .env.

    python examples/list_customers.py      # sandbox; add -p for live, -l for localhost

If the key has been revoked, a terminal session signs in again (the browser opens) and
the call goes through; without a terminal (CI, cron) it stops at once with one line.
"""

import sys

import httpx2

from atmn_auth import AutumnClient
from atmn_auth.errors import AtmnError


def main(args: list[str]) -> int:
    try:
        with AutumnClient(prod="-p" in args, local="-l" in args) as autumn:
            response = autumn.get("/v1/customers")
            response.raise_for_status()
    except (AtmnError, httpx2.HTTPError) as exc:  # one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    customers = response.json()["list"]
    print(f"{len(customers)} customers")
    for customer in customers:
        print(f"  {customer.get('id')}  {customer.get('name') or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
