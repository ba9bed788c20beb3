"""`manage.py demo_setup`: what `make run` needs on the embedded default.

Seeds demo cases once, registers a demo platform once, and prints its keys.
The demo platform's keys are kept in var/demo-platform.json (mode 600) so
every `make run` can print them again; real platforms are registered with
`create_platform`, whose keys are shown once and stored only as hashes.
"""

import io
import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.cases.models import Case
from portal.platforms import services
from portal.platforms.models import Platform

DEMO_PLATFORM = "Demo platform"


class Command(BaseCommand):
    help = "Seed demo data and a demo platform once (embedded default only)."

    def handle(self, *args, **options) -> None:
        if not Case.objects.exists():
            out = io.StringIO()
            call_command("seed_demo", cases=25, hashes_per_case=3, seed=2026, stdout=out)
            self.stdout.write(f"Seeded demo data: {out.getvalue().strip()}")
        credentials_file = Path(settings.VAR_DIR) / "demo-platform.json"
        if not Platform.objects.filter(name=DEMO_PLATFORM).exists():
            created = services.platform_create(name=DEMO_PLATFORM)
            credentials_file.write_text(
                json.dumps(
                    {
                        "platform": DEMO_PLATFORM,
                        "api_key": created.api_key.raw,
                        "stopncii_subscription_key": created.stopncii_subscription_key.raw,
                        "stopncii_function_key": created.stopncii_function_key.raw,
                    },
                    indent=2,
                )
            )
            credentials_file.chmod(0o600)
        if credentials_file.exists():
            credentials = json.loads(credentials_file.read_text())
            self.stdout.write(f"Demo platform credentials (from {credentials_file}):")
            for key, value in credentials.items():
                self.stdout.write(f"  {key}: {value}")
