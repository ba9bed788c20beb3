"""The production stack on this machine, for the tests and benchmarks that load it.

`Stack` starts what the Procfile runs (gunicorn servers with production settings, a real
Celery worker) on a fresh database of the throw-away PostgreSQL of scripts/with-services
and on Redis databases of their own, and removes it all afterwards. `BrowserClient`
talks to one server as a browser does (cookies, CSRF, the TLS proxy's headers).

Work that needs Django in the stack's own settings (creating platforms, seeding hashes,
reading what the database holds) runs in a child process: `python -m tests.support.stack
COMMAND ...`, see `_child_main`. The parent never imports Django for it, so a benchmark
can drive the stack without carrying the app in its own process.
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.support.services import ROOT, free_port, wait_for_port

HOST = "takeback.example.org"
BIN = ROOT / ".venv" / "bin"


class BrowserClient:
    """A browser-like client of one server: keeps its cookies, sends CSRF, follows nothing.

    `forwarded_for` is the address the TLS proxy in front would append to
    X-Forwarded-For (servers started with TAKEBACK_PROXY_COUNT=1 take the client's
    address from it), so many simulated people each count as their own client.
    """

    def __init__(self, port: int, *, forwarded_for: str | None = None) -> None:
        self.port = port
        self.forwarded_for = forwarded_for
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        all_headers = {
            "Host": HOST,
            # Behind the TLS proxy of README "Deploying" (production redirects plain HTTP).
            "X-Forwarded-Proto": "https",
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}/",
            **(headers or {}),
        }
        if self.forwarded_for:
            all_headers["X-Forwarded-For"] = self.forwarded_for
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        csrf = self.cookies.get("__Secure-csrftoken")
        if csrf and method == "POST":
            all_headers["X-CSRFToken"] = csrf
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie = http.cookies.SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value
            return response.status, dict(response.headers), data
        finally:
            connection.close()

    def form(self, path: str, fields: dict[str, str]) -> int:
        fields = {"csrfmiddlewaretoken": self.cookies["__Secure-csrftoken"], **fields}
        status, _, _ = self.request(
            "POST",
            path,
            body=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, _, body = self.request(
            "POST",
            path,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body[:300]


def redis_database(url: str, number: int) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{number}").geturl()


def collectstatic(env: dict[str, str]) -> None:
    """`manage.py collectstatic` in `env`, without the brotli copies.

    The pages need the manifest of hashed names. WhiteNoise also writes a brotli copy
    of every file when the `brotli` module is importable, and locust (the `bench`
    extra) brings it in: at maximum quality that takes minutes on this machine instead
    of seconds (173 s against 9 s, measured), for copies no request here asks for.
    Gzip copies are still written.
    """
    code = (
        "import sys; sys.modules['brotli'] = None; "
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'collectstatic', '--no-input', '-v0'])"
    )
    subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True, timeout=600)


def _stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Stack:
    """gunicorn servers + a Celery worker on a fresh PostgreSQL database and Redis.

    `env` may override any setting the production settings read (throttle rates,
    quotas, TAKEBACK_PROXY_COUNT); callers say why they change one.
    """

    def __init__(
        self,
        tmp: Path,
        *,
        database_url: str,
        redis_url: str,
        servers: int = 1,
        workers: int = 2,
        redis_databases: tuple[int, int] = (10, 11),
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.servers = servers
        self.workers = workers
        url = urllib.parse.urlsplit(database_url)
        self._name = f"takeback_load_{secrets.token_hex(4)}"
        self._admin = url._replace(path="/postgres").geturl()
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE", "REDIS", "CELERY", "DJANGO_", "GUNICORN_"))
        }
        cache, broker = redis_databases
        self.env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DJANGO_SECRET_KEY": "load-test-" + "k" * 50,
            # Browsers come through the TLS proxy by name (BrowserClient); platforms' tools
            # and the benchmarks' clients by address, over plain HTTP, as `make prod`
            # serves them (no TLS proxy here, so no redirect to https).
            "DJANGO_ALLOWED_HOSTS": f"{HOST},127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": url._replace(path=f"/{self._name}").geturl(),
            # Redis databases of their own: nothing counted or enqueued here reaches the
            # session's other tests or their worker, and this worker takes only our tasks.
            "REDIS_URL": redis_database(redis_url, cache),
            "CELERY_BROKER_URL": redis_database(redis_url, broker),
            "TAKEBACK_VAR_DIR": str(tmp / "var"),
            "GUNICORN_WORKERS": str(workers),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), str(ROOT / "integrations" / "pytx"), base.get("PYTHONPATH", "")]
            ),
            **(env or {}),
        }
        self.ports: list[int] = []
        self._processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    # The stack's life ----------------------------------------------------------------

    def __enter__(self) -> Stack:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self._name}"')
        try:
            self._redis_flush()
            self.manage("migrate", "--no-input", "-v0")
            self._collectstatic()
            for n in range(self.servers):
                self._start_gunicorn(n)
            self._start_worker()
            for port in self.ports:
                wait_for_port(port, timeout=180)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg

        for process in self._processes:
            _stop(process)
        self._processes.clear()
        self._redis_flush()
        with psycopg.connect(self._admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')

    def _redis_flush(self) -> None:
        import redis

        for key in ("REDIS_URL", "CELERY_BROKER_URL"):
            redis.Redis.from_url(self.env[key]).flushdb()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        with log.open("w") as log_file:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped as a process group, workers included
            )
        self._processes.append(process)
        return process

    def _start_gunicorn(self, n: int) -> None:
        port = free_port()
        # Reads gunicorn.conf.py, as the Procfile's `web` line does.
        self._spawn(
            f"gunicorn-{n}",
            [str(BIN / "gunicorn"), "portal.wsgi"],
            {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        )
        self.ports.append(port)

    def _start_worker(self) -> None:
        # The Procfile's `worker` line (one process: the machine has two cores).
        log_name = "celery-worker"
        process = self._spawn(
            log_name,
            [
                str(BIN / "celery"),
                "-A",
                "portal",
                "worker",
                "-l",
                "info",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
            ],
            self.env,
        )
        log = self.tmp / f"{log_name}.log"
        deadline = time.monotonic() + 120
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{log.read_text()}")
            time.sleep(0.2)

    def _collectstatic(self) -> None:
        collectstatic(self.env)

    def log_text(self, prefix: str) -> str:
        return "".join(p.read_text() for p in self.logs if p.name.startswith(prefix))

    # Work inside the stack's settings ---------------------------------------------------

    def manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.stdout

    def child(self, command: str, *args: str, timeout: float = 600) -> Any:
        """Run `_child_main` COMMAND in the stack's settings; returns what it wrote (JSON)."""
        out = self.tmp / f"child-{secrets.token_hex(4)}.json"
        done = subprocess.run(
            [str(BIN / "python"), "-m", "tests.support.stack", command, str(out), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed:\n{done.stdout}\n{done.stderr}")
        try:
            return json.loads(out.read_text())
        finally:
            out.unlink()

    def platforms_create(self, count: int) -> list[dict[str, Any]]:
        """`count` registered platforms: [{"id", "name", "api_key"}], in one child process."""
        return self.child("platforms", str(count))

    def hashes_seed(self, count: int, *, seed: int = 16) -> list[str]:
        """Insert `count` random active PDQ hashes (one case); returns their values."""
        return self.child("seed", str(count), str(seed))

    def replicas_expected(self) -> dict[str, Any]:
        """What the database holds: each platform's active set as its replica must hold it."""
        return self.child("expected")


# The child side: runs with Django set up in the stack's settings ------------------------


def _child_platforms(count: int) -> list[dict[str, Any]]:
    from portal.platforms.services import platform_create

    created = []
    for n in range(count):
        made = platform_create(name=f"Load platform {n + 1:03d}")
        created.append(
            {"id": made.platform.pk, "name": made.platform.name, "api_key": made.api_key.raw}
        )
    return created


def _child_seed(count: int, seed: int) -> list[str]:
    import random

    from django.db import transaction

    from portal.cases.models import SubmittedHash
    from portal.cases.positions import feed_positions_allocate
    from portal.cases.services import case_create
    from tests.support.factories import SubmittedItemFactory, random_pdq

    rng = random.Random(seed)
    values = list(dict.fromkeys(random_pdq(rng) for _ in range(count)))
    case = case_create(items=SubmittedItemFactory.build_batch(1)).case
    # Straight into the table, as bench_api_match.py seeds it: the submission path would
    # take hours for a million rows and its quotas would refuse them.
    for start in range(0, len(values), 20_000):
        chunk = values[start : start + 20_000]
        with transaction.atomic():
            rows = [
                SubmittedHash(case=case, algorithm="pdq", value=v, quality=90, media_kind="image")
                for v in chunk
            ]
            for row, position in zip(rows, feed_positions_allocate(count=len(rows)), strict=True):
                row.feed_seq = position
            SubmittedHash.objects.bulk_create(rows, batch_size=5_000)
    return values


def _child_expected() -> dict[str, Any]:
    """Per platform, the rows its replica must hold, in the replica's own shape.

    Read in one REPEATABLE READ transaction, so every platform's set is of one moment.
    The replica's rows are `hashing.platform.store.Store.dump()`: (algorithm, value,
    media_kind, quality, case_id, item_id, seq, frame, timestamp). Active hashes carry the
    position they were added at; each platform's decoys (leak tracing) are in its replica
    too.
    """
    from django.db import connection, transaction
    from django.db.models import Count

    from portal.cases.models import SubmittedHash
    from portal.platforms.models import Decoy, Platform
    from portal.platforms.pseudonyms import (
        decoy_disguise,
        pseudonymous_case_id,
        pseudonymous_item_id,
    )

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        active = list(
            SubmittedHash.objects.filter(status=SubmittedHash.Status.ACTIVE).values_list(
                "algorithm",
                "value",
                "media_kind",
                "quality",
                "case_id",
                "item_id",
                "feed_seq",
                "frame",
                "frame_timestamp",
            )
        )
        platforms: dict[str, list[list[Any]]] = {}
        for platform in Platform.objects.order_by("pk"):
            rows = [
                [
                    algorithm,
                    value,
                    media_kind,
                    quality,
                    pseudonymous_case_id(platform=platform, case_id=case_id),
                    pseudonymous_item_id(platform=platform, item_id=str(item_id)),
                    seq,
                    frame,
                    timestamp,
                ]
                for (
                    algorithm,
                    value,
                    media_kind,
                    quality,
                    case_id,
                    item_id,
                    seq,
                    frame,
                    timestamp,
                ) in active
            ]
            for decoy in Decoy.objects.filter(platform=platform).order_by("feed_seq"):
                disguise = decoy_disguise(platform=platform, decoy=decoy)
                rows.append(
                    [
                        decoy.algorithm,
                        decoy.value,
                        decoy.media_kind,
                        decoy.quality,
                        disguise.case_id,
                        disguise.item_id,
                        decoy.feed_seq,
                        None,  # decoys are never video frames
                        None,
                    ]
                )
            platforms[str(platform.pk)] = sorted(rows, key=lambda r: (r[0], r[1], r[4], r[5]))
        return {
            "platforms": platforms,
            "active": sorted([a, v] for a, v, *_ in active),
            "by_status": dict(
                SubmittedHash.objects.order_by()
                .values("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            ),
        }


def _child_main(argv: list[str]) -> None:
    import django

    django.setup()
    command, out, *args = argv
    if command == "platforms":
        result: Any = _child_platforms(int(args[0]))
    elif command == "seed":
        result = _child_seed(int(args[0]), int(args[1]))
    elif command == "expected":
        result = _child_expected()
    else:
        raise SystemExit(f"unknown command {command!r}")
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    _child_main(sys.argv[1:])
