"""API-key authentication for platforms.

A platform sends `Authorization: Bearer tb_<prefix>_<secret>`. The key is
checked against its stored SHA-256 (portal.platforms.services); the request's
`user` becomes a small principal standing for the platform and `auth` the
ApiKey row, whose scopes the permission classes read.

The StopNCII-compatible exchange reuses `ApiKeyAuthentication` by
subclassing it with other headers and key kinds (see `key_from_request`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from portal.platforms import services
from portal.platforms.models import ApiKey, Platform


@dataclass(frozen=True, eq=False)
class PlatformPrincipal:
    """`request.user` for a platform: authenticated, never staff, no Django user row."""

    platform: Platform
    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> int:
        # ScopedRateThrottle keys on `user.pk`: throttle per key, not per platform,
        # so a platform's keys (e.g. a batch job and a live service) don't starve each other.
        return self.api_key.pk

    def __str__(self) -> str:
        return f"platform:{self.platform.pk}"


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_detail = "The API key is not valid or has been revoked."
    default_code = "invalid_api_key"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer tb_...` with a native API key."""

    kind: str = ApiKey.Kind.API
    scheme = "Bearer"

    def key_from_request(self, request: Request) -> str | None:
        """The raw key the client sent, or None if it sent none (not an error here)."""
        header = get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, token = header.decode("latin-1").partition(" ")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            raise InvalidApiKey() from None
        if scheme.lower() != self.scheme.lower():
            return None
        token = token.strip()
        if not token or " " in token:
            raise InvalidApiKey("Malformed Authorization header: use 'Bearer <api key>'.")
        return token

    def authenticate(self, request: Request) -> tuple[PlatformPrincipal, ApiKey] | None:
        raw = self.key_from_request(request)
        if raw is None:
            return None
        api_key = services.api_key_authenticate(raw=raw, kind=self.kind)
        if api_key is None:
            # Deliberately the same answer for unknown, revoked and wrong-kind keys.
            raise InvalidApiKey()
        return PlatformPrincipal(platform=api_key.platform, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 when no key is sent.
        return f'{self.scheme} realm="takeback"'
