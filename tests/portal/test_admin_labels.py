"""The operators' admin names its models in plain English ("hashs" and "deliverys" no more)."""

from django.apps import apps


def test_plural_names_are_english():
    plurals = {str(model._meta.verbose_name_plural) for model in apps.get_models()}
    assert {"submitted hashes", "webhook deliveries", "hash feedback"} <= plurals
    assert not [name for name in plurals if name.endswith(("hashs", "rys", "feedbacks"))]
