"""Permissions for the platform API: a platform key, and the scope the view needs.

Default-deny: a view that does not name a `required_scope` can't be called with a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.authentication import PlatformPrincipal
from portal.platforms.models import ApiKey, Platform

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.views import APIView


class IsPlatform(BasePermission):
    """The request was authenticated with a platform API key."""

    message = "Authentication with a platform API key is required."
    code = "not_authenticated"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, PlatformPrincipal) and isinstance(request.auth, ApiKey)


# A view that any valid key may call (e.g. "who am I").
ANY_SCOPE = "*"


class HasScope(BasePermission):
    """The key carries the view's `required_scope` (a view without one is closed)."""

    message = "This API key does not have the scope this endpoint needs."
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: APIView) -> bool:
        required = getattr(view, "required_scope", None)
        if not required or not isinstance(request.auth, ApiKey):
            return False
        return required == ANY_SCOPE or required in (request.auth.scopes or [])


def request_platform(request: Request) -> Platform:
    """The platform behind an authenticated request (views call this after the checks)."""
    user = request.user
    assert isinstance(user, PlatformPrincipal)
    return user.platform
