from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "portal.platforms"
    label = "platforms"
    verbose_name = "Participating platforms"
