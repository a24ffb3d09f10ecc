"""`list_customers.py` for asyncio: the organization and its customers, fetched together.

python examples/list_customers_async.py      # sandbox; add -p for live, -l for localhost
"""

import asyncio
import sys

import httpx2

from atmn_auth import AsyncAutumnClient
from atmn_auth.errors import AtmnError


async def main(args: list[str]) -> int:
    try:
        async with AsyncAutumnClient(prod="-p" in args, local="-l" in args) as autumn:
            org, customers = await asyncio.gather(
                autumn.get("/v1/organization/me"), autumn.get("/v1/customers")
            )
            org.raise_for_status()
            customers.raise_for_status()
    except (AtmnError, httpx2.HTTPError) as exc:  # one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    listed = customers.json()["list"]
    print(f"{org.json()['name']}: {len(listed)} customers")
    for customer in listed:
        print(f"  {customer.get('id')}  {customer.get('name') or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
