"""Test settings: the base settings plus a fast password hasher.

The database is whatever DATABASE_URL says: `make test` points it at a
throw-away PostgreSQL; a bare `pytest` falls back to SQLite.
"""

from .base import *  # noqa: F403

# PIN hashing with Argon2 is deliberately slow; tests that check the real
# hasher say so explicitly.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
