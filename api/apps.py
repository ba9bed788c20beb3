"""App config of the platform API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Platform API"

    def ready(self) -> None:
        # Registers the OpenAPI description of our authentication with drf-spectacular.
        from api import schema  # noqa: F401
