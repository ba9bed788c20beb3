"""`manage.py create_platform NAME`: register a platform and print its keys once."""

import json as jsonlib

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.exceptions import ApplicationError
from portal.platforms import services


class Command(BaseCommand):
    help = "Register a participating platform and print its credentials (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, name: str, json: bool, **options) -> None:
        try:
            created = services.platform_create(name=name)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        credentials = {
            "platform": created.platform.name,
            "platform_id": created.platform.pk,
            "api_key": created.api_key.raw,
            "stopncii_subscription_key": created.stopncii_subscription_key.raw,
            "stopncii_function_key": created.stopncii_function_key.raw,
        }
        if json:
            self.stdout.write(_dumps(credentials))
            return
        self.stdout.write(
            f"Platform {created.platform.name!r} registered (id {created.platform.pk})."
        )
        self.stdout.write("Keep these keys now: they are shown only once and can't be recovered.")
        self.stdout.write(f"  API key (Authorization: Bearer ...): {credentials['api_key']}")
        self.stdout.write(
            f"  StopNCII Ocp-Apim-Subscription-Key: {credentials['stopncii_subscription_key']}"
        )
        self.stdout.write(
            f"  StopNCII x-functions-key:           {credentials['stopncii_function_key']}"
        )


def _dumps(value: dict) -> str:
    return jsonlib.dumps(value, sort_keys=True)
