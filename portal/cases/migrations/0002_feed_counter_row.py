"""Create the single feed counter row, so allocation never races to create it."""

from django.db import migrations


def create_counter(apps, schema_editor):
    FeedCounter = apps.get_model("cases", "FeedCounter")
    FeedCounter.objects.get_or_create(pk=1, defaults={"last_seq": 0})


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(create_counter, migrations.RunPython.noop)]
