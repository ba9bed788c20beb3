"""gunicorn settings for production: `gunicorn portal.wsgi` reads this file."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# Threads: a snapshot of millions of hashes streams for minutes, and a sync worker is
# killed after `timeout` inside one request. A gthread worker's heartbeat runs beside
# its requests, so `timeout` bounds a hung worker, not a long download.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Server-side hashing holds an upload (at most TAKEBACK_MAX_UPLOAD_BYTES) in memory
# while it is hashed (one at a time per process: portal/cases/server_hashing.py).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Privacy: the access log records method, path and status only, never bodies,
# query strings or the client address.
accesslog = "-"
access_log_format = '"%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def post_fork(server, worker) -> None:
    """Load the compiled hashing kernels before the first upload arrives."""
    import hashing

    hashing.warm_up()
