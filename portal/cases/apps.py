from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "portal.cases"
    label = "cases"
    verbose_name = "Cases and hashes"
