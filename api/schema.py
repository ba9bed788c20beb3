"""drf-spectacular extensions: how the API's authentication appears in the OpenAPI schema."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "PlatformApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tb_<prefix>_<secret>",
            "description": "A platform API key issued by `manage.py create_platform`.",
        }


class AutoSchema(openapi.AutoSchema):
    """Names components after their view for nested serializers.

    Views keep `InputSerializer`/`OutputSerializer` nested classes (styleguide
    §3); by class name alone they would all collide as "Input"/"Output". A
    nested serializer is named from its qualified name instead:
    `HashFeedApi.OutputSerializer` becomes `HashFeedOutput`.
    """

    def get_serializer_name(self, serializer, direction):
        cls = serializer.__class__
        if "." not in cls.__qualname__ or "<locals>" in cls.__qualname__:
            return super().get_serializer_name(serializer, direction)
        parts = [
            p.removesuffix("Serializer").removesuffix("Api") for p in cls.__qualname__.split(".")
        ]
        return "".join(parts)
