"""Locust users of bench_load.py: platforms sending batches to `POST /api/v1/match`.

Not run on its own: bench_load.py starts the stack, writes the request bodies and the
platforms' keys to files and runs `locust -f bench/locustfile_match.py --headless`
with these variables:

    TAKEBACK_BENCH_BODIES  a JSON file: a list of ready request bodies (one batch each)
    TAKEBACK_BENCH_KEYS    a JSON file: the platforms' API keys (users take them in turn)
    TAKEBACK_BENCH_BATCH   hashes per batch (names the request in locust's figures)

Bodies are made before the run so that the load generator, which shares the machine
with the servers, spends its time sending rather than building JSON.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

BODIES = [b.encode() for b in json.loads(Path(os.environ["TAKEBACK_BENCH_BODIES"]).read_text())]
KEYS = itertools.cycle(json.loads(Path(os.environ["TAKEBACK_BENCH_KEYS"]).read_text()))
BATCH = int(os.environ["TAKEBACK_BENCH_BATCH"])
OFFSETS = itertools.count()


class Platform(FastHttpUser):
    """A platform's upload pipeline asking about one batch after another, without pause."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {
            "Authorization": f"Bearer {next(KEYS)}",
            "Content-Type": "application/json",
        }
        self.bodies = itertools.cycle(BODIES[next(OFFSETS) % len(BODIES) :] + BODIES)

    @task
    def match(self) -> None:
        with self.client.post(
            "/api/v1/match",
            data=next(self.bodies),
            headers=self.headers,
            name=f"match {BATCH}",
            catch_response=True,
        ) as response:
            # The full answer is checked by bench_load.py's single-request loop; here a
            # cheap check that it is one, so that an error page never counts as a match.
            if response.status_code != 200 or not response.content.startswith(b'{"results":'):
                response.failure(f"HTTP {response.status_code}: {response.content[:200]!r}")
