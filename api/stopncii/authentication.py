"""StopNCII-style authentication: the `x-functions-key` and `Ocp-Apim-Subscription-Key` pair.

StopNCII.org sits behind Azure API Management (the subscription key) in front of
Azure Functions (a function key per endpoint); threatexchange's client sends both
headers on every request. Both must be active keys of the same active platform,
of the right kinds (`platform_create` issues one of each), or the request is
refused with 401 and nothing else happens. The request then looks like any
other platform request (`api.authentication.PlatformPrincipal`), with the
function key as `request.auth`: its scopes decide what the caller may do.
"""

from __future__ import annotations

from rest_framework.request import Request

from api.authentication import ApiKeyAuthentication, InvalidApiKey, PlatformPrincipal
from portal.platforms.models import ApiKey
from portal.platforms.services import api_key_authenticate

FUNCTION_KEY_HEADER = "x-functions-key"
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"


class StopNCIIKeyAuthentication(ApiKeyAuthentication):
    kind = ApiKey.Kind.STOPNCII_FUNCTION

    def authenticate(self, request: Request) -> tuple[PlatformPrincipal, ApiKey] | None:
        function_raw = request.headers.get(FUNCTION_KEY_HEADER, "").strip()
        subscription_raw = request.headers.get(SUBSCRIPTION_KEY_HEADER, "").strip()
        if not function_raw and not subscription_raw:
            # No credentials at all: DRF answers 401 not_authenticated.
            return None
        if not function_raw or not subscription_raw:
            raise InvalidApiKey(
                f"Send both {FUNCTION_KEY_HEADER} and {SUBSCRIPTION_KEY_HEADER} headers."
            )
        function_key = api_key_authenticate(raw=function_raw, kind=ApiKey.Kind.STOPNCII_FUNCTION)
        subscription_key = api_key_authenticate(
            raw=subscription_raw, kind=ApiKey.Kind.STOPNCII_SUBSCRIPTION
        )
        # One answer for unknown, revoked and wrong-kind keys: don't say which.
        if function_key is None or subscription_key is None:
            raise InvalidApiKey(
                f"The {FUNCTION_KEY_HEADER} / {SUBSCRIPTION_KEY_HEADER} pair is not valid "
                "or has been revoked."
            )
        if function_key.platform_id != subscription_key.platform_id:
            raise InvalidApiKey(
                f"{FUNCTION_KEY_HEADER} and {SUBSCRIPTION_KEY_HEADER} belong to different "
                "platforms."
            )
        return PlatformPrincipal(platform=function_key.platform, api_key=function_key), function_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) and names the headers expected.
        return f'{FUNCTION_KEY_HEADER} realm="stopncii"'
