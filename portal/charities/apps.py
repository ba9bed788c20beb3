from django.apps import AppConfig


class CharitiesConfig(AppConfig):
    name = "portal.charities"
    label = "charities"
    verbose_name = "Support organisations"
