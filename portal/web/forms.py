"""Forms and the JSON payload of the portal's pages (interfaces: validation only)."""

from typing import Any

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from hashing.video import VpdqFrame
from portal.cases.models import Case, SubmittedHash
from portal.cases.services import MAX_ITEMS_PER_SUBMISSION, SubmittedItem
from portal.exceptions import ApplicationError


class EligibilityForm(forms.Form):
    # Age is asked about the images, not the person today: an adult whose images
    # were taken at 16 belongs with Take It Down / Report Remove (under_18.html).
    AGE_CHOICES = [
        ("adult", _("No, I was 18 or over in all of them")),
        ("minor", _("Yes, or I'm not sure")),
    ]
    SUBJECT_CHOICES = [
        (Case.Subject.PICTURED, _("I am in the images")),
        (
            Case.Subject.SYNTHETIC,
            _("The images were made or changed to look like me (for example a deepfake)"),
        ),
        ("other", _("Neither: the images are of someone else")),
    ]

    age = forms.ChoiceField(
        label=_("Were you under 18 in any of the images?"),
        help_text=_("For images made or changed to look like you, answer for the age they show."),
        choices=AGE_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether you were under 18 in any of the images.")},
    )
    subject = forms.ChoiceField(
        label=_("Who is in the images?"),
        choices=SUBJECT_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say who is in the images.")},
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that fingerprints (hashes) of my images are shared with the "
            "platforms that take part, so they can find and block copies."
        ),
        required=True,
        error_messages={"required": _("Tick the box to agree that the fingerprints are shared.")},
    )


class CaseLoginForm(forms.Form):
    number = forms.CharField(
        label=_("Case number"),
        max_length=40,
        error_messages={"required": _("Enter your case number.")},
        help_text=_("For example K3M9-ZQ2A-7HFX-0B4C"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    pin = forms.CharField(
        label=_("PIN"),
        max_length=20,
        error_messages={"required": _("Enter your PIN.")},
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class RecoveryForm(forms.Form):
    number = CaseLoginForm.base_fields["number"]
    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        error_messages={"required": _("Enter your recovery code.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,video/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ServerHashingForm(forms.Form):
    # The form metaclass moves declared fields into base_fields, so this field doesn't
    # shadow BaseForm.files at runtime; the stubs see a class attribute.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Choose photos or videos"), required=False
    )
    # Files of an earlier try that were hashed: their hashes (and names, for the page),
    # signed, so a bad file doesn't make the person choose the good ones again.
    # Compact (see kept_sign) and bounded (KEPT_MAX_CHARS): a longer value is refused unread.
    kept = forms.CharField(required=False, widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=_(
            "I agree that these files are sent to Takeback's server, hashed in memory "
            "and discarded straight away. They are never saved."
        ),
        required=True,
        error_messages={"required": _("Tick the box to agree before the files are sent.")},
    )
    recovery = forms.BooleanField(
        label=_("Also give me a recovery code, in case I lose the PIN"), required=False
    )

    def clean_files(self) -> list[Any]:
        return [f for f in self.cleaned_data.get("files") or [] if f]

    def clean_kept(self) -> list[tuple[str, SubmittedItem]]:
        value = self.cleaned_data.get("kept") or ""
        if not value:
            return []
        try:
            if len(value) > KEPT_MAX_CHARS:
                raise ValueError("kept value over its bound")
            kept = signing.loads(value, salt=KEPT_SALT, max_age=KEPT_MAX_AGE)
            items = items_from_payload({"items": [_kept_expand(item) for _name, item in kept]})
            return [(str(name), item) for (name, _raw), item in zip(kept, items, strict=True)]
        except (signing.BadSignature, ApplicationError, TypeError, ValueError):
            raise forms.ValidationError(
                _("Please choose your photos again."), code="bad_kept"
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("files") and not cleaned.get("kept") and "kept" not in self.errors:
            self.add_error(
                "files", forms.ValidationError(_("Please choose at least one photo or video."))
            )
        return cleaned


KEPT_SALT = "takeback.upload-kept"
KEPT_MAX_AGE = 60 * 60
# The hidden value goes back and forth with every try, so it is bounded: 512 kB holds a
# dozen photos and some 8,500 video frames (about 60 characters a frame, see kept_sign).
KEPT_MAX_CHARS = 512 * 1024


def _kept_compact(item: SubmittedItem) -> dict[str, Any]:
    """An item's payload with each frame as a [frame, timestamp, pdq, quality] list."""
    payload = item_to_payload(item)
    if "vpdq" in payload:
        payload["vpdq"] = [
            [f["frame"], f["timestamp"], f["pdq"], f["quality"]] for f in payload["vpdq"]
        ]
    return payload


def _kept_expand(raw: Any) -> Any:
    """_kept_compact undone (the value was signed by us; items_from_payload checks it)."""
    if isinstance(raw, dict) and isinstance(raw.get("vpdq"), list):
        keys = ("frame", "timestamp", "pdq", "quality")
        raw = {**raw, "vpdq": [dict(zip(keys, frame, strict=True)) for frame in raw["vpdq"]]}
    return raw


def kept_sign(kept: list[tuple[str, SubmittedItem]]) -> str:
    """The hidden `kept` value of ServerHashingForm for these (name, item) pairs.

    A video carries up to thousands of frames, so frames are lists, not objects, and the
    JSON is compressed before it is signed (the 64-digit hex hashes halve).
    """
    return signing.dumps(
        [(name, _kept_compact(item)) for name, item in kept], salt=KEPT_SALT, compress=True
    )


def kept_fit(
    kept: list[tuple[str, SubmittedItem]],
) -> tuple[list[tuple[str, SubmittedItem]], list[str]]:
    """The kept files whose signed value stays within KEPT_MAX_CHARS, and the names left out."""
    fitting = list(kept)
    left_out: list[str] = []
    while fitting and len(kept_sign(fitting)) > KEPT_MAX_CHARS:
        name, _item = fitting.pop()
        left_out.insert(0, name)
    return fitting, left_out


class HashOneForm(forms.Form):
    """One file the browser couldn't open, sent with its own consent (see views.hash_one)."""

    file = forms.FileField()
    consent = forms.BooleanField(required=True)


def item_to_payload(item: SubmittedItem) -> dict[str, Any]:
    """The JSON form of an item, as the hashing page sends it back in `items`."""
    payload: dict[str, Any] = {
        "media_kind": item.media_kind,
        "hashes": item.hashes,
        "pdq_quality": item.pdq_quality,
    }
    if item.vpdq:
        payload["vpdq"] = [frame.as_dict() for frame in item.vpdq]
    return payload


def _frames_from_payload(raw: Any) -> tuple[VpdqFrame, ...]:
    """A video's `vpdq` list: {"frame", "timestamp", "pdq", "quality"} each, else an error.

    Only the shape is checked here; services.frames_kept judges the values.
    """
    if raw is None:
        return ()
    malformed = ApplicationError(_("A file's hashes are malformed."), code="bad_payload")
    if not isinstance(raw, list):
        raise malformed
    frames = []
    for frame in raw:
        if not isinstance(frame, dict):
            raise malformed
        number, timestamp = frame.get("frame"), frame.get("timestamp")
        pdq, quality = frame.get("pdq"), frame.get("quality")
        if (
            not isinstance(number, int)
            or not isinstance(quality, int)
            or isinstance(number, bool)
            or isinstance(quality, bool)
            or isinstance(timestamp, bool)
            or not isinstance(timestamp, int | float)
            or not isinstance(pdq, str)
        ):
            raise malformed
        frames.append(VpdqFrame(frame=number, timestamp=float(timestamp), pdq=pdq, quality=quality))
    return tuple(frames)


def items_from_payload(payload: Any) -> list[SubmittedItem]:
    """The submitted items of a JSON body: only media kinds, hashes, PDQ quality and frames.

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
                media_kind=str(raw.get("media_kind", "")),
                hashes=hashes,
                pdq_quality=quality,
                vpdq=_frames_from_payload(raw.get("vpdq")),
            )
        )
    return items
