"""The Python design descope-mgmt replaces, for `cargo bench --bench pace` to compare against:
the official Descope SDK, a PyrateLimiter acquired before each submit to a thread pool of
max(1, min(20, int(rate_per_s * latency_s * 0.8) + 1)) workers, a 429 waited out for its
Retry-After and the create sent again. Prints the wall time in seconds.

Needs `descope` (as docs/descope-api.md §10.9 installs it) and `pyrate-limiter>=3.1,<4`.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

from descope import DescopeClient, RateLimitException
from pyrate_limiter import Duration, Limiter, Rate

URL = os.environ["URL"]
N = int(os.environ["N"])
RATE = int(os.environ["RATE"])
WINDOW = float(os.environ["WINDOW"])
LATENCY = float(os.environ["LATENCY"])

client = DescopeClient(project_id=os.environ["PROJECT"], management_key=os.environ["KEY"], base_url=URL)
# Blocks (up to a window) instead of raising: v3's Limiter only waits when given max_delay.
limiter = Limiter(
    Rate(RATE, int(WINDOW * Duration.SECOND)),
    raise_when_fail=False,
    max_delay=int(WINDOW * Duration.SECOND) + 1000,
)
workers = max(1, min(20, int(RATE / WINDOW * LATENCY * 0.8) + 1))


def create(i):
    while True:
        try:
            client.mgmt.tenant.create(name=f"Tenant {i}", id=f"t-{i:05}")
            return
        except RateLimitException as e:
            time.sleep(max(1, int(e.rate_limit_parameters.get("Retry-After", 1) or 1)))


start = time.monotonic()
with ThreadPoolExecutor(max_workers=workers) as pool:
    futures = []
    for i in range(N):
        limiter.try_acquire("descope")
        futures.append(pool.submit(create, i))
    for f in futures:
        f.result()
print(f"{time.monotonic() - start:.3f}")
