"""How the StopNCII key pair appears in the OpenAPI schema (drf-spectacular extension).

Imported by `api.stopncii.views`, so it is registered whenever the URLs are loaded.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from api.stopncii.authentication import FUNCTION_KEY_HEADER, SUBSCRIPTION_KEY_HEADER


class StopNCIIKeyPairScheme(OpenApiAuthenticationExtension):
    target_class = "api.stopncii.authentication.StopNCIIKeyAuthentication"
    # Two names: a request needs both (one security requirement holding both schemes).
    name = ["StopNCIIFunctionKey", "StopNCIISubscriptionKey"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": FUNCTION_KEY_HEADER,
                "description": "The platform's StopNCII function key (kind stopncii_fn).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": SUBSCRIPTION_KEY_HEADER,
                "description": "The platform's StopNCII subscription key (kind stopncii_sub).",
            },
        ]
