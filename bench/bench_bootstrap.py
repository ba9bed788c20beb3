"""Bootstrap: N hashes from an empty platform database to a loaded local index, end to end.

Creates a throw-away database in the PostgreSQL of `scripts/with-services`, migrates it,
fills it with N hashes in SQL (generate_series: per two cases four files, three photos of
PDQ/pHash/dHash/MD5/SHA-256 and a video of MD5/SHA-256 and three vPDQ frames; the
platform's decoys half way through), starts gunicorn with production settings (as the
Procfile's `web` line, two workers), and times, in a fresh process each,
`takeback-platform sync` into an empty store followed by building the toolkit's index
(`Checker`, `HashIndex.from_arrays`) and one lookup: with the binary snapshot, and with
the NDJSON one as the baseline of the same run. Prints rows/s, seconds (download+load,
index, total), the client's peak RSS (wait4) and the gunicorn workers' RSS before and at
peak during each download (flat server memory: the peak stays near the start).

Usage:
  scripts/with-services .venv/bin/python bench/bench_bootstrap.py [--rows 10000000]
      [--skip-baseline]   # binary only (the NDJSON baseline takes minutes at 10 M)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

from tests.support.services import free_port, wait_for_port  # noqa: E402

# Twenty rows make two cases of two files each (see _fill).
_BLOCK = 20

# A client run: sync, then the index built from the store and one lookup. JSON out.
_CLIENT = r"""
import json, sys, time
from hashing.platform.__main__ import main
from hashing.platform.check import Checker
from hashing.platform.store import Store
db, url, key, snapshot = sys.argv[1:5]
started = time.perf_counter()
rc = main(["sync", "--quiet", "--no-acknowledge", "--db", db, "--base-url", url,
           "--api-key", key, "--snapshot", snapshot])
synced = time.perf_counter()
assert rc == 0, rc
with Store(db) as store:
    checker = Checker(store)
    count = store.count()
    value = next(iter(store.rows("pdq")))[1]
    matches = checker.lookup({"pdq": value})
indexed = time.perf_counter()
assert matches and matches[0]["distance"] == 0
print(json.dumps({"rows": count, "sync": synced - started, "index": indexed - synced,
                  "total": indexed - started, "pdq": len(checker.indexes["pdq"])}))
"""


def _fill_sql(first: int, last: int, base_seq: int) -> str:
    """Rows [first, last) of the synthetic list, as one INSERT ... SELECT."""
    # p: the row's place in its block of 20; the 4th file of a block is a video.
    # Only integers are formatted into this SQL.
    return f"""
INSERT INTO cases_submittedhash
  (case_id, item_id, algorithm, value, quality, frame, frame_timestamp, media_kind,
   status, feed_seq, created_at, updated_at, removed_at)
SELECT 1 + g / {_BLOCK} * 2 + (g % {_BLOCK} >= 10)::int,
  md5('item' || (g / 5)::text)::uuid,
  CASE WHEN p < 15 THEN (ARRAY['pdq','phash','dhash','md5','sha256'])[1 + p % 5]
       WHEN p < 17 THEN (ARRAY['md5','sha256'])[p - 14] ELSE 'pdq' END,
  CASE WHEN (p < 15 AND p % 5 IN (0, 4)) OR p = 16 OR p >= 17
         THEN encode(sha256(int8send(g)), 'hex')
       WHEN p % 5 = 3 OR p = 15 THEN md5(g::text)
       ELSE substr(md5(g::text), 1, 16) END,
  CASE WHEN p < 15 AND p % 5 = 0 THEN 90 WHEN p >= 17 THEN 80 END,
  CASE WHEN p >= 17 THEN (p - 17) * 30 END,
  CASE WHEN p >= 17 THEN (p - 17) + 0.033 END,
  CASE WHEN p >= 15 THEN 'video' ELSE 'image' END,
  'active', {base_seq} + g + 1, now(), now(), NULL
FROM (SELECT g, g % {_BLOCK} AS p FROM generate_series({first}, {last - 1}) AS g) AS s
"""  # noqa: S608


def _create_cases(conn: psycopg.Connection, rows: int) -> None:
    cases = (rows + _BLOCK - 1) // _BLOCK * 2
    conn.execute(
        "INSERT INTO cases_case (id, number, pin_hash, recovery_code_hash, status, subject, "  # noqa: S608
        "organisation_id, created_at, withdrawn_at, expires_at) "
        "SELECT g, 'BENCH-' || g, 'x', '', 'active', 'pictured', NULL, now(), NULL, "
        f"now() + interval '1 year' FROM generate_series(1, {cases}) AS g"
    )


def _fill(conn: psycopg.Connection, first: int, last: int) -> None:
    base = conn.execute("SELECT last_seq FROM cases_feedcounter WHERE id = 1").fetchone()[0]
    step = 1_000_000
    for start in range(first, last, step):
        end = min(start + step, last)
        conn.execute(_fill_sql(start, end, base - first))
        print(f"  {end:,} rows", flush=True)
    conn.execute(
        f"UPDATE cases_feedcounter SET last_seq = {base + last - first} WHERE id = 1"  # noqa: S608
    )


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout


class _RssWatch:
    """Samples the summed RSS of gunicorn's workers every 0.1 s."""

    def __init__(self, master: int) -> None:
        self.master = psutil.Process(master)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def workers_rss(self) -> int:
        total = 0
        for child in self.master.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.workers_rss())

    def __enter__(self) -> _RssWatch:
        self.start = self.workers_rss()
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


_WARM = r"""
import numpy as np
from hashing.index import HashIndex
rng = np.random.default_rng(0)
for algorithm, width in (("pdq", 32), ("phash", 8), ("dhash", 8)):
    hashes = rng.integers(0, 256, (300_000, width), dtype=np.uint8)
    index = HashIndex.from_arrays(algorithm, np.arange(300_000), hashes)
    index.query("00" * width, 10)
"""


def _warm_index_kernels() -> None:
    """Compile (or load) the index's numba kernels into the on-disk cache before timing,
    so that neither timed run pays a first compilation."""
    subprocess.run(
        [str(BIN / "python"), "-c", _WARM],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=900,
    )


def _settled(master: int, *, base: str, key: str) -> None:
    """Wait until both workers served a request and their RSS stopped growing (post_fork
    warms the hashing kernels up), so that what a download adds is what is measured."""
    import urllib.request

    def poke() -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback http
            f"{base}/api/v1/hashes/feed?limit=1", headers={"Authorization": f"Bearer {key}"}
        )
        urllib.request.urlopen(request, timeout=120).read()  # noqa: S310 - loopback

    for _ in range(3):
        threads = [threading.Thread(target=poke) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    watch = _RssWatch(master)
    last, steady = -1, 0
    while steady < 3:
        time.sleep(1)
        now = watch.workers_rss()
        steady = steady + 1 if abs(now - last) < 2**20 else 0
        last = now


def _client_run(url: str, key: str, snapshot: str, workdir: Path, watch_pid: int) -> dict:
    db = workdir / f"{snapshot}-{secrets.token_hex(3)}.db"
    with _RssWatch(watch_pid) as watch:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BIN / "python"), "-c", _CLIENT, str(db), url, key, snapshot],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"client failed ({status}): {out}")
    result = json.loads(out.splitlines()[-1])  # after sync's own summary line
    result |= {
        "wall": wall,
        "client_peak_mb": usage.ru_maxrss / 1024,  # Linux: KiB
        "server_start_mb": watch.start / 2**20,
        "server_peak_mb": watch.peak / 2**20,
        "store_mb": db.stat().st_size / 2**20,
    }
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return result


def _redis(number: int) -> str:
    """A Redis database of the bench's own (scripts/with-services' REDIS_URL)."""
    given = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return urllib.parse.urlsplit(given)._replace(path=f"/{number}").geturl()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("run under scripts/with-services (needs DATABASE_URL of PostgreSQL)")
    url = urllib.parse.urlsplit(database_url)
    name = f"takeback_bootstrap_{secrets.token_hex(4)}"
    admin = url._replace(path="/postgres").geturl()
    bench_url = url._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="bench-bootstrap-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "CELERY", "DJANGO_", "GUNICORN_", "TAKEBACK_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        DJANGO_SECRET_KEY="bench-bootstrap-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        # The toolkit talks plain HTTP to loopback here (no TLS proxy in front).
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=bench_url,
        REDIS_URL=_redis(7),
        CELERY_BROKER_URL=_redis(9),
        TAKEBACK_VAR_DIR=str(workdir / "var"),
        TAKEBACK_THROTTLE_SNAPSHOT="1000/hour",
        GUNICORN_WORKERS="2",
        # A sync worker is killed after `timeout` s in one request: the NDJSON baseline
        # of 10 M rows streams for minutes.
        GUNICORN_TIMEOUT="3600",
    )
    server = None
    try:
        print(f"migrating {name} ...", flush=True)
        _manage(env, "migrate", "--no-input", "-v0")
        started = time.perf_counter()
        with psycopg.connect(bench_url, autocommit=True) as conn:
            _create_cases(conn, args.rows)
            _fill(conn, 0, args.rows // 2)
            key = json.loads(_manage(env, "create_platform", "Bench Social", "--json"))["api_key"]
            _fill(conn, args.rows // 2, args.rows)
            conn.execute("VACUUM ANALYZE cases_submittedhash")
        print(f"filled {args.rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        log = (workdir / "gunicorn.log").open("w")
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "portal.wsgi"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(port, timeout=120)
        _settled(server.pid, base=f"http://127.0.0.1:{port}", key=key)
        base = f"http://127.0.0.1:{port}"
        _warm_index_kernels()
        print(f"load average {os.getloadavg()[0]:.1f} (2 cores, shared machine)", flush=True)
        results = {"binary": _client_run(base, key, "binary", workdir, server.pid)}
        if not args.skip_baseline:
            results["ndjson"] = _client_run(base, key, "ndjson", workdir, server.pid)
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        print(
            f"{'snapshot':>8} {'rows':>10} {'sync s':>7} {'index s':>7} {'total s':>7} "
            f"{'rows/s':>8} {'client MB':>9} {'server MB start/peak':>20} {'store MB':>8}"
        )
        for kind, r in results.items():
            print(
                f"{kind:>8} {r['rows']:>10,} {r['sync']:>7.1f} {r['index']:>7.1f} "
                f"{r['total']:>7.1f} {r['rows'] / r['total']:>8,.0f} {r['client_peak_mb']:>9.0f} "
                f"{r['server_start_mb']:>9.0f}/{r['server_peak_mb']:<10.0f} {r['store_mb']:>8.0f}"
            )
        if "ndjson" in results:
            ratio = results["ndjson"]["total"] / results["binary"]["total"]
            print(f"binary end to end is {ratio:.1f}x faster than NDJSON in this run")
        print(json.dumps(results))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
