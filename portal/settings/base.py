"""Base settings, driven by environment variables.

With no variables set this is the *embedded default*: SQLite under `var/`,
Celery tasks run eagerly in the web process, a generated secret key kept in
`var/`. Production sets DATABASE_URL, CELERY_BROKER_URL, REDIS_URL,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and uses `portal.settings.production`.
"""

import secrets
from pathlib import Path
from typing import Any

from portal.env import BASE_DIR, env

# GENERAL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Writable state of the embedded default (SQLite file, local secret key,
# collected static files). Tests point it at a temporary directory.
VAR_DIR = Path(env.str("TAKEBACK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    """A random key kept in var/ so sessions survive restarts of the embedded app."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _local_secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en"
# Chosen for who needs the service in the UK and beyond: English and Welsh, then the
# languages most spoken in UK homes and by people reaching UK helplines. Each is named in
# itself (the header's language menu shows these names). Arabic and Urdu are right to
# left (Django's LANGUAGES_BIDI): <html dir="rtl">, and portal.css uses logical
# properties so the layout mirrors. Catalogues: portal/locale/<code>/ (README "Languages").
LANGUAGES = [
    ("en", "English"),
    ("cy", "Cymraeg"),
    ("ar", "العربية"),
    ("bn", "বাংলা"),
    ("es", "Español"),
    ("fr", "Français"),
    ("hi", "हिन्दी"),
    ("pa", "ਪੰਜਾਬੀ"),
    ("pl", "Polski"),
    ("pt", "Português"),
    ("ro", "Română"),
    ("tr", "Türkçe"),
    ("uk", "Українська"),
    ("ur", "اردو"),
]
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'takeback.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue
    # instead of failing with "database is locked" half way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)

# CACHES
# ------------------------------------------------------------------------------
# Throttles and PIN lock-outs live in the cache, so several app servers must
# share one: set REDIS_URL in production. The embedded default is one process.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "takeback",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Second factor for every staff account (portal/charities/two_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
LOCAL_APPS = [
    "portal.cases",
    "portal.platforms",
    "portal.charities",
    "portal.trust",
    "portal.web",
    "api",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# PASSWORDS
# ------------------------------------------------------------------------------
# PINs and recovery codes are stored with these hashers: Argon2 first.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.is_verified(): staff pages and the admin require it.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# STATIC
# ------------------------------------------------------------------------------
# Served by WhiteNoise from the app itself, so one process serves everything.
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_DIRS = [
    # The browser twin of the hashing library, served at /static/hashing/.
    ("hashing", BASE_DIR / "hashing" / "js"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedStaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# UPLOADS
# ------------------------------------------------------------------------------
# Privacy: uploaded files for server-side hashing are kept in memory only, never
# spooled to a temporary file. The size cap keeps that memory bounded.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
TAKEBACK_MAX_UPLOAD_BYTES = env.int("TAKEBACK_MAX_UPLOAD_BYTES", default=30 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = TAKEBACK_MAX_UPLOAD_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = TAKEBACK_MAX_UPLOAD_BYTES
# What a file costs is its pixels (a 1-bit PNG of 64 MP is 8 kB): read from headers before
# anything is decoded, per file and per request (portal/cases/server_hashing.py).
TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE = env.int(
    "TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE", default=24_000_000
)
TAKEBACK_UPLOAD_MAX_PIXELS_PER_REQUEST = env.int(
    "TAKEBACK_UPLOAD_MAX_PIXELS_PER_REQUEST", default=120_000_000
)
# A video's cost is its decoding time: the server path takes videos up to this long (and
# within TAKEBACK_MAX_UPLOAD_BYTES); the browser hashes longer ones on the device.
TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS = env.int("TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS", default=30 * 60)

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# LOGGING
# ------------------------------------------------------------------------------
# Privacy: nothing here logs request bodies. Django's request logger records
# only method, path and status for errors.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Without a broker the embedded default runs tasks eagerly in the web process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Run with `celery -A portal beat` beside the workers in production.
CELERY_BEAT_SCHEDULE = {
    "expire-cases": {"task": "cases.expire", "schedule": 60 * 60},
    # Backstop for webhooks: feed writers also ask for a dispatch on commit.
    "dispatch-webhooks": {"task": "platforms.webhooks_dispatch", "schedule": 30},
    # Platforms' feed lag over time, for the operators' statistics (portal/charities).
    "sample-platform-sync": {"task": "charities.platform_sync_sample", "schedule": 15 * 60},
}

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
# Default-deny: every endpoint needs a platform key carrying the scope the view
# names (`required_scope`) and states its throttle scope. Errors are JSON with a
# stable code (api/exceptions.py).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsPlatform", "api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    # Per key (api.authentication.PlatformPrincipal.pk is the key's id).
    "DEFAULT_THROTTLE_RATES": {
        "feed": env.str("TAKEBACK_THROTTLE_FEED", default="600/min"),
        "snapshot": env.str("TAKEBACK_THROTTLE_SNAPSHOT", default="30/hour"),
        "match": env.str("TAKEBACK_THROTTLE_MATCH", default="120/min"),
        "feedback": env.str("TAKEBACK_THROTTLE_FEEDBACK", default="600/min"),
        "webhooks": env.str("TAKEBACK_THROTTLE_WEBHOOKS", default="60/min"),
        "stopncii": env.str("TAKEBACK_THROTTLE_STOPNCII", default="600/min"),
    },
    "UNAUTHENTICATED_USER": None,
}
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Takeback platform API",
    "DESCRIPTION": (
        "Hash feed, snapshot, batch match, feedback, acknowledgements and webhooks for "
        "participating platforms, plus a StopNCII-compatible exchange. Every error is JSON "
        '`{"code", "message", "details"}` with a stable `code`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public (they describe, they don't grant anything).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Docs are served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# WEBHOOKS
# ------------------------------------------------------------------------------
# Pushes of new hashes and removals to platforms' endpoints (portal/platforms/webhooks.py).
TAKEBACK_WEBHOOK_BATCH_SIZE = env.int("TAKEBACK_WEBHOOK_BATCH_SIZE", default=1000)
TAKEBACK_WEBHOOK_TIMEOUT_SECONDS = env.float("TAKEBACK_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
TAKEBACK_WEBHOOK_MAX_ATTEMPTS = env.int("TAKEBACK_WEBHOOK_MAX_ATTEMPTS", default=10)
# Retry n waits BASE * 2**(n-1) seconds, capped at MAX: 30 s, 1 min, 2 min ... 1 h.
TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS = env.float("TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS", default=30)
TAKEBACK_WEBHOOK_RETRY_MAX_SECONDS = env.float("TAKEBACK_WEBHOOK_RETRY_MAX_SECONDS", default=3600)
# Without a broker, deliveries run on an in-process worker thread (portal/platforms/tasks.py),
# never inside a request; this sweep stands in for Celery beat's dispatch backstop.
TAKEBACK_WEBHOOK_LOCAL_SWEEP_SECONDS = env.float("TAKEBACK_WEBHOOK_LOCAL_SWEEP_SECONDS", default=30)
# A webhook host's name must resolve within this (registration and each attempt).
TAKEBACK_WEBHOOK_RESOLVE_TIMEOUT_SECONDS = env.float(
    "TAKEBACK_WEBHOOK_RESOLVE_TIMEOUT_SECONDS", default=3
)
# Endpoints must be https. Tests and local development may allow plain http to
# 127.0.0.1/localhost only; production.py never turns this on.
TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = env.bool(
    "TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK", default=False
)

# TAKEBACK
# ------------------------------------------------------------------------------
# How long a case's hashes stay in the feed unless the victim renews them.
TAKEBACK_CASE_LIFETIME_DAYS = env.int("TAKEBACK_CASE_LIFETIME_DAYS", default=3 * 365)

# TRUST IN THE LIST (issue 9): QUOTAS, QUARANTINE, RETENTION
# ------------------------------------------------------------------------------
# Quotas on what enters the list (portal/cases/limits.py); refused submissions spend nothing.
TAKEBACK_CASE_MAX_FILES = env.int("TAKEBACK_CASE_MAX_FILES", default=500)
TAKEBACK_CASE_FILES_PER_HOUR = env.int("TAKEBACK_CASE_FILES_PER_HOUR", default=200)
TAKEBACK_GLOBAL_FILES_PER_HOUR = env.int("TAKEBACK_GLOBAL_FILES_PER_HOUR", default=50_000)
# A hash leaves the feed for review when this many platforms report "reviewed, not
# violating" (portal/trust/quarantine.py) ...
TAKEBACK_QUARANTINE_NOT_VIOLATING = env.int("TAKEBACK_QUARANTINE_NOT_VIOLATING", default=2)
# ... or when one platform reports this many distinct uploads matching it in a day (flood).
TAKEBACK_QUARANTINE_FLOOD_UPLOADS = env.int("TAKEBACK_QUARANTINE_FLOOD_UPLOADS", default=1000)
# Renewing from the status page is offered in the last this-many days before expiry.
TAKEBACK_CASE_RENEWAL_WINDOW_DAYS = env.int("TAKEBACK_CASE_RENEWAL_WINDOW_DAYS", default=90)
# Without a broker, the periodic jobs of CELERY_BEAT_SCHEDULE that keep the list honest
# (expiry) run on an in-process timer every this-many seconds (portal/trust/schedule.py).
TAKEBACK_LOCAL_SCHEDULE_SECONDS = env.float("TAKEBACK_LOCAL_SCHEDULE_SECONDS", default=60 * 60)

# PORTAL: SESSIONS AND COOKIES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/http/sessions/
# The portal sets only the session and CSRF cookies. A victim's session (the
# case they opened with their PIN) is short and ends with the browser.
SESSION_COOKIE_AGE = env.int("TAKEBACK_SESSION_SECONDS", default=30 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = True  # the 30 minutes count from the last page seen
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
# Flash messages ride in the session, not in a cookie of their own.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# "no-referrer" makes browsers send `Origin: null` on the portal's own form
# posts, which Django's CSRF origin check rightly refuses. "same-origin" still
# sends nothing to any other site.
SECURE_REFERRER_POLICY = "same-origin"
LOGIN_URL = "web:org_login"
LOGIN_REDIRECT_URL = "web:org_cases"

# PORTAL: CONTENT SECURITY POLICY AND OTHER RESPONSE HEADERS
# ------------------------------------------------------------------------------
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
# No inline scripts or styles, nothing from another origin. 'wasm-unsafe-eval'
# lets hashing/js compile its vendored WebAssembly digests (hashing/js/vendor);
# blob: images are the local previews of the files being hashed; blob: media is a video
# this browser's WebCodecs can't decode, played locally to hash its frames
# (hashVideoWithElement in hashing/js/video.js).
MIDDLEWARE += ["portal.web.middleware.PortalHeadersMiddleware"]
TAKEBACK_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "media-src blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
# The operators' admin and the API docs bring their own pages; they get no CSP here.
TAKEBACK_CSP_EXEMPT_PREFIXES = ["/operators/", "/api/"]
# Where the quick-exit button goes: a neutral site, replacing this page in history.
TAKEBACK_QUICK_EXIT_URL = env.str(
    "TAKEBACK_QUICK_EXIT_URL", default="https://www.bbc.co.uk/weather"
)

# PORTAL: THROTTLING OF PINS, RECOVERY CODES AND CASE CREATION
# ------------------------------------------------------------------------------
# Counted in the cache (see CACHES): per case and per client (a keyed hash of
# the address, never the address). See portal/cases/throttling.py.
TAKEBACK_PIN_MAX_FAILURES_PER_CASE = env.int("TAKEBACK_PIN_MAX_FAILURES_PER_CASE", default=5)
TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT = env.int("TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT", default=20)
TAKEBACK_PIN_LOCKOUT_SECONDS = env.int("TAKEBACK_PIN_LOCKOUT_SECONDS", default=15 * 60)
# A slower budget per case, shared by every client: once spent, only clients that
# haven't failed on the case may try (issue 10, finding 4; docs/security.md).
TAKEBACK_PIN_CASE_BUDGET = env.int("TAKEBACK_PIN_CASE_BUDGET", default=100)
TAKEBACK_PIN_CASE_BUDGET_SECONDS = env.int("TAKEBACK_PIN_CASE_BUDGET_SECONDS", default=24 * 60 * 60)
TAKEBACK_CASE_CREATION_MAX_PER_CLIENT = env.int("TAKEBACK_CASE_CREATION_MAX_PER_CLIENT", default=30)
TAKEBACK_CASE_CREATION_WINDOW_SECONDS = 60 * 60
# Behind N reverse proxies that append to X-Forwarded-For, the client is the
# Nth address from the right; 0 means use the socket's address.
TAKEBACK_PROXY_COUNT = env.int("TAKEBACK_PROXY_COUNT", default=0)

# PORTAL: TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES[0]["OPTIONS"]["context_processors"].append("portal.web.context.portal")

# PORTAL: SUPPORT ORGANISATIONS, STAFF SIGN-IN AND E-MAIL
# ------------------------------------------------------------------------------
# https://django-otp-official.readthedocs.io/en/stable/overview.html
# Every staff account (caseworkers, org admins, operators) signs in with a
# password and a TOTP code or a recovery code (portal/charities/two_factor.py).
OTP_TOTP_ISSUER = env.str("TAKEBACK_OTP_ISSUER", default="Takeback")
# Invitation links for new staff, and hand-off links a caseworker gives a victim.
TAKEBACK_INVITATION_HOURS = env.int("TAKEBACK_INVITATION_HOURS", default=72)
TAKEBACK_HANDOFF_HOURS = env.int("TAKEBACK_HANDOFF_HOURS", default=72)
# Password resets and invitations are e-mailed. The embedded default prints
# mails on the console; set EMAIL_URL (e.g. smtp+tls://user:pass@host:587) to send.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _EMAIL.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_EMAIL.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_EMAIL.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="takeback@localhost")
PASSWORD_RESET_TIMEOUT = env.int("TAKEBACK_PASSWORD_RESET_SECONDS", default=60 * 60)

# HARDENING (issue 10): STAFF SIGN-IN THROTTLE, REQUEST LIMITS, COOKIES, FILES
# ------------------------------------------------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Every password check that comes with a request (the staff sign-in, which is also the
# operators' way into /operators/) goes through django-axes first. Counted per
# (username, client) so a stranger can't lock an operator out from elsewhere; kept in
# the cache only, under the keyed client hash (portal/web/middleware.py).
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "portal.web.middleware.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("TAKEBACK_STAFF_MAX_FAILURES", default=10)
AXES_COOLOFF_TIME = env.float("TAKEBACK_STAFF_LOCKOUT_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "portal.web.middleware.axes_client"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "429.html"
AXES_VERBOSE = False
# The cache handler wants a cache shared by every process. The embedded default is one
# process (runserver), so its per-process cache is shared by all; production settings
# refuse to start without REDIS_URL.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["axes.W001"]
# Request bodies that aren't forms are bounded before any parser sees them (size from
# Content-Length, then nesting depth), and every /api/ error is JSON with a `code`
# (portal/web/middleware.py RequestLimitsMiddleware; api/parsers.py for DRF).
TAKEBACK_JSON_MAX_BYTES = env.int("TAKEBACK_JSON_MAX_BYTES", default=2 * 1024 * 1024)
TAKEBACK_JSON_MAX_DEPTH = env.int("TAKEBACK_JSON_MAX_DEPTH", default=32)
MIDDLEWARE.insert(1, "portal.web.middleware.RequestLimitsMiddleware")
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["api.parsers.BoundedJSONParser"]
# The CSRF cookie ends with the browser, like the session: no year-long trace on a
# shared device.
CSRF_COOKIE_AGE = None
# The embedded SQLite file holds sessions and webhook secrets: readable by its owner only
# (SQLite gives its journal and WAL files the same mode).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite = str(DATABASES["default"]["NAME"])
    if _sqlite and not _sqlite.startswith(("file:", ":memory:")):
        Path(_sqlite).touch(mode=0o600, exist_ok=True)
        Path(_sqlite).chmod(0o600)
# The API docs (Swagger UI from drf-spectacular-sidecar, its start-up script served as a
# file by the split view; templates/drf_spectacular/swagger_ui.html drops the one inline
# <style>) and the operators' admin (Django's admin has no inline script) get a strict
# policy of their own; `data:` images are the icons their stylesheets embed.
_CSP_TOOLS = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
TAKEBACK_CSP_BY_PREFIX = {"/api/docs/": _CSP_TOOLS, "/operators/": _CSP_TOOLS}
