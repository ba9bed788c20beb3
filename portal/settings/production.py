"""Production settings: base settings with the deployment hardening switched on.

Requires DJANGO_SECRET_KEY, DATABASE_URL and DJANGO_ALLOWED_HOSTS; see README
"Deploying". `python manage.py check --deploy` passes with no warnings.
"""

from django.core.exceptions import ImproperlyConfigured

from portal.env import env

from .base import *  # noqa: F403

SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: fail loudly when missing
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# Throttles, PIN lock-outs and the staff sign-in guard count in the cache: a cache per
# worker process would multiply every limit by the number of workers (issue 10).
if not REDIS_URL:  # noqa: F405
    raise ImproperlyConfigured(
        "REDIS_URL is required in production: lock-out counters must be shared by every worker."
    )

# SECURITY (cookiecutter-django production.py)
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "__Secure-csrftoken"
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

# STATIC: hashed names, so browsers can cache forever.
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"  # noqa: F405
