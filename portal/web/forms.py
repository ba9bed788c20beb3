"""Forms and the JSON payload of the portal's pages (interfaces: validation only)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.cases.models import Case, SubmittedHash
from portal.cases.services import MAX_ITEMS_PER_SUBMISSION, SubmittedItem
from portal.exceptions import ApplicationError


class EligibilityForm(forms.Form):
    AGE_CHOICES = [("adult", _("Yes, I am 18 or over")), ("minor", _("No, I am under 18"))]
    SUBJECT_CHOICES = [
        (Case.Subject.PICTURED, _("I am in the images")),
        (
            Case.Subject.SYNTHETIC,
            _("The images were made or changed to look like me (for example a deepfake)"),
        ),
        ("other", _("Neither: the images are of someone else")),
    ]

    age = forms.ChoiceField(
        label=_("Are you 18 or over?"), choices=AGE_CHOICES, widget=forms.RadioSelect
    )
    subject = forms.ChoiceField(
        label=_("Who is in the images?"), choices=SUBJECT_CHOICES, widget=forms.RadioSelect
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that fingerprints (hashes) of my images are shared with the "
            "platforms that take part, so they can find and block copies."
        ),
        required=True,
    )


class CaseLoginForm(forms.Form):
    number = forms.CharField(
        label=_("Case number"),
        max_length=40,
        help_text=_("For example K3M9-ZQ2A-7HFX-0B4C"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    pin = forms.CharField(
        label=_("PIN"),
        max_length=20,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class RecoveryForm(forms.Form):
    number = CaseLoginForm.base_fields["number"]
    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ServerHashingForm(forms.Form):
    # The form metaclass moves declared fields into base_fields, so this field doesn't
    # shadow BaseForm.files at runtime; the stubs see a class attribute.
    files = MultipleFileField(label=_("Choose photos"))  # type: ignore[assignment]
    consent = forms.BooleanField(
        label=_(
            "I agree that these files are sent to Takeback's server, hashed in memory "
            "and discarded straight away. They are never saved."
        ),
        required=True,
    )
    recovery = forms.BooleanField(
        label=_("Also give me a recovery code, in case I lose the PIN"), required=False
    )


def items_from_payload(payload: Any) -> list[SubmittedItem]:
    """The submitted items of a JSON body: only media kinds, hashes and PDQ quality.

    Anything else in the body is ignored, so nothing but hashes can be stored.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise ApplicationError(_("The request did not contain any hashes."), code="bad_payload")
    raw_items = payload["items"]
    if not 1 <= len(raw_items) <= MAX_ITEMS_PER_SUBMISSION:
        raise ApplicationError(
            _("Submit between 1 and %(n)d files at a time.") % {"n": MAX_ITEMS_PER_SUBMISSION},
            code="bad_count",
        )
    items = []
    for raw in raw_items:
        if not isinstance(raw, dict) or not isinstance(raw.get("hashes"), dict):
            raise ApplicationError(_("A file's hashes are missing."), code="bad_payload")
        quality = raw.get("pdq_quality")
        if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
            raise ApplicationError(_("A file's hashes are malformed."), code="bad_payload")
        hashes = {
            str(k): v
            for k, v in raw["hashes"].items()
            if k in SubmittedHash.Algorithm.values and isinstance(v, str)
        }
        items.append(
            SubmittedItem(
                media_kind=str(raw.get("media_kind", "")), hashes=hashes, pdq_quality=quality
            )
        )
    return items
