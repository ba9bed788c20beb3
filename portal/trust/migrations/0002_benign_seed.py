"""Load the built-in benign seed list (portal/trust/benign_seed.json, made by seed.py)."""

import json
from pathlib import Path

from django.db import migrations

SEED = Path(__file__).resolve().parents[1] / "benign_seed.json"


def load(apps, schema_editor):
    BenignHash = apps.get_model("trust", "BenignHash")
    rows = json.loads(SEED.read_text())
    BenignHash.objects.bulk_create(
        [BenignHash(algorithm=a, value=v, label=label, source="seed") for a, v, label in rows],
        ignore_conflicts=True,
    )


def unload(apps, schema_editor):
    apps.get_model("trust", "BenignHash").objects.filter(source="seed").delete()


class Migration(migrations.Migration):
    dependencies = [("trust", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
