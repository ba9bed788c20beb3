"""Webhook signing secrets are stored sealed with a key derived from SECRET_KEY (issue 10)."""

from django.db import migrations, models


def seal_secrets(apps, schema_editor):
    from portal.platforms.webhooks import secret_seal

    WebhookEndpoint = apps.get_model("platforms", "WebhookEndpoint")
    for endpoint in WebhookEndpoint.objects.exclude(secret__startswith="sealed1:"):
        endpoint.secret = secret_seal(endpoint.secret)
        endpoint.save(update_fields=["secret"])


class Migration(migrations.Migration):
    dependencies = [("platforms", "0003_decoys_webhooks")]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=models.CharField(editable=False, max_length=255),
        ),
        # Not reversible: unsealing needs the same SECRET_KEY, and clear secrets are what
        # this migration exists to remove.
        migrations.RunPython(seal_secrets, migrations.RunPython.noop),
    ]
