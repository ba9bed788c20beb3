"""Victim- and charity-facing pages (thin: they call services and selectors).

Privacy by construction: the pages that hash run `hashing/js` in a Web Worker
and post only hashes. The one path that receives files (server-side hashing,
with explicit consent) hands them to `portal.cases.server_hashing`, which reads
them in memory, hashes them and drops them. Sign-in, recovery and their
lock-outs are services too (`portal.cases.sign_in`): views validate and render.
"""

import json
import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

import hashing
from hashing.errors import UnreadableVideo, UnsupportedVideoFormat, VideoTooLarge
from portal import sealing
from portal.cases import selectors, server_hashing, services, sign_in, throttling
from portal.cases.models import Case, Organisation
from portal.charities import services as charities_services
from portal.exceptions import ApplicationError
from portal.platforms.selectors import case_distribution, participating_platforms
from portal.web import caseworkers, forms
from portal.web.helpers import client_of, lockout_message
from portal.web.middleware import SESSION_LANGUAGE_KEY, BodyRefused, json_loads_bounded
from portal.web.strings import submit_page_strings

# Session keys. Nothing that names the person is kept: the eligibility answer
# that goes on the case, and which case this browser has opened with its PIN.
SESSION_SUBJECT = "tb_subject"
SESSION_CASE = "tb_case"
SESSION_CASE_CHECK = "tb_case_check"
# The secrets of a case just made on the server path, shown by `created` (GET) so a
# reload neither loses them nor makes a second case (POST/redirect/GET). They are
# held only until the person opens their case, leaves, or SECRETS_SHOWN_SECONDS pass.
SESSION_CREATED = "tb_created"
SECRETS_SHOWN_SECONDS = 10 * 60
_SECRETS_PURPOSE = "shown-case-secrets"

# 100 photos' hashes are a few tens of kB; a two-hour video's 7,200 frames about 650 kB.
MAX_JSON_BODY = 2 * 1024 * 1024

# hashing's own messages are English; these are the translated equivalents.
# Keyed by the type of HashedUpload.error (None only when there was no error).
HASHING_MESSAGES: dict[type[hashing.HashingError | None], str | Promise] = {
    hashing.UnreadableImage: gettext_lazy(
        "This image is damaged or incomplete and could not be read."
    ),
    hashing.ImageTooLarge: gettext_lazy("This image has too many pixels to hash."),
    hashing.UnsupportedFormat: gettext_lazy(
        "This file is not a photo or video format we can hash (photos: JPEG, PNG, GIF, "
        "WebP, HEIC/HEIF, AVIF, BMP, TIFF; videos: MP4/MOV, WebM, MKV, AVI)."
    ),
    UnreadableVideo: gettext_lazy("This video is damaged or incomplete and could not be read."),
    UnsupportedVideoFormat: gettext_lazy(
        "This video format is not one we can hash (MP4/MOV, WebM, MKV and AVI with H.264, "
        "HEVC, VP8, VP9, AV1, MPEG-4 or Motion JPEG video)."
    ),
}


def _hashing_message(error: hashing.HashingError | None) -> str:
    """The translated message for a file the server could not hash."""
    if isinstance(error, VideoTooLarge):
        return (
            _(
                "This video is too large or too long to hash on our server (the limits are "
                "%(mb)d MB and %(minutes)d minutes). Your browser can hash longer videos on "
                "this device."
            )
            % _upload_limits()
        )
    return str(HASHING_MESSAGES.get(type(error), _("This file could not be hashed.")))


def _upload_limits() -> dict[str, int]:
    """The server path's limits, as the pages tell them up front."""
    return {
        "mb": settings.TAKEBACK_MAX_UPLOAD_BYTES // (1024 * 1024),
        "minutes": settings.TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS // 60,
    }


def _created_labels(items: list[services.SubmittedItem]) -> list[tuple[str, int | None]]:
    """Each file's label, and for a video how many frame fingerprints are shared."""
    return [
        (
            selectors.item_label(item.hashes),
            len(services.frames_kept(item=item)) if item.media_kind == "video" else None,
        )
        for item in items
    ]


# Helpers ---------------------------------------------------------------------


def _session_case(request: HttpRequest) -> Case | None:
    pk = request.session.get(SESSION_CASE)
    if pk is None:
        return None
    case = Case.objects.filter(pk=pk).first()
    check = request.session.get(SESSION_CASE_CHECK, "")
    if case is None or not sign_in.case_session_valid(case=case, check=check):
        request.session.pop(SESSION_CASE, None)
        request.session.pop(SESSION_CASE_CHECK, None)
        return None
    return case


def _open_case(request: HttpRequest, case: Case) -> None:
    """Sign this browser in to `case`, so "Check your case" needs nothing retyped."""
    request.session.cycle_key()
    request.session[SESSION_CASE] = case.pk
    request.session[SESSION_CASE_CHECK] = sign_in.case_session_check(case=case)


def _show_created(
    request: HttpRequest,
    created: services.CaseCreated,
    *,
    reset: bool = False,
    labels: list[tuple[str, int | None]] | None = None,
    low_quality: list[int] | None = None,
) -> HttpResponse:
    """Keep the new secrets for the page that shows them, then redirect there (PRG).

    Privacy: the PIN and recovery code sit in this browser's session for at most
    SECRETS_SHOWN_SECONDS, only so a reload doesn't lose them, and sealed
    (portal.sealing): the session store holds them encrypted, so a dump of it
    alone reveals neither. Opening the case, quick exit or the time limit
    removes them.
    """
    _open_case(request, created.case)
    secrets = json.dumps({"pin": created.pin, "recovery_code": created.recovery_code})
    request.session[SESSION_CREATED] = {
        "case": created.case.pk,
        "secrets": sealing.seal(secrets, purpose=_SECRETS_PURPOSE),
        "reset": reset,
        "labels": labels or [],
        "low_quality": low_quality or [],
        "at": time.time(),
    }
    return redirect("web:recovered" if reset else "web:created")


def _expiry(case: Case) -> str:
    return date_format(timezone.localtime(case.expires_at), "DATE_FORMAT")


def _json_body(request: HttpRequest) -> Any:
    if len(request.body) > MAX_JSON_BODY:
        raise ApplicationError(_("Too many files at once."), code="too_large")
    try:
        # Size and nesting depth are checked before parsing (issue 10, finding 6).
        return json_loads_bounded(request.body)
    except BodyRefused:
        raise ApplicationError(_("The request was not understood."), code="too_deep") from None
    except (ValueError, UnicodeDecodeError):
        raise ApplicationError(_("The request was not understood."), code="bad_json") from None


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _caseworker_organisation(request: HttpRequest, slug: Any) -> Organisation | None:
    if not slug:
        return None
    organisation = selectors.organisations_of_user(user=request.user).filter(slug=slug).first()
    if organisation is None:
        raise ApplicationError(_("You are not a member of that organisation."), code="forbidden")
    return organisation


# Landing, eligibility, language -----------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


@require_http_methods(["GET", "POST"])
def quick_exit(request: HttpRequest) -> HttpResponse:
    """End the visit: forget the case, the answers and any secrets, then leave for elsewhere.

    A GET, so it works as a plain link without JavaScript (and portal.js replaces the
    page in history with it). Ending someone's session is all a forged link could do.
    """
    request.session.flush()
    return redirect(settings.TAKEBACK_QUICK_EXIT_URL)


@require_safe
def platforms(request: HttpRequest) -> HttpResponse:
    return render(request, "web/platforms.html", {"platforms": participating_platforms()})


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    form = forms.EligibilityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["age"] != "adult":
            return render(request, "web/under_18.html")
        if form.cleaned_data["subject"] not in Case.Subject.values:
            return render(request, "web/not_eligible.html")
        # Only the answer that goes on the case is kept; the age answer is not.
        request.session[SESSION_SUBJECT] = form.cleaned_data["subject"]
        return redirect("web:submit")
    return render(request, "web/start.html", {"form": form})


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("language", "")
    if code in dict(settings.LANGUAGES):
        request.session[SESSION_LANGUAGE_KEY] = code
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("web:home")
    return redirect(back)


# New case: hash in the browser, submit hashes ---------------------------------


@require_safe
def submit(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_SUBJECT) not in Case.Subject.values:
        return redirect("web:start")
    return render(
        request,
        "web/submit.html",
        {
            "mode": "new",
            "endpoint": reverse("web:submit_hashes"),
            "organisations": selectors.organisations_of_user(user=request.user),
            "strings": submit_page_strings(),
        },
    )


@require_POST
def submit_hashes(request: HttpRequest) -> JsonResponse:
    subject = request.session.get(SESSION_SUBJECT)
    if subject not in Case.Subject.values:
        return _error(_("Please answer the questions on the previous page first."), 403)
    try:
        payload = _json_body(request)
        items = forms.items_from_payload(payload)
        organisation = _caseworker_organisation(request, payload.get("organisation"))
        if not throttling.case_creation_allowed(client=client_of(request)):
            return _error(_("Too many cases were started from here. Please try later."), 429)
        try:
            created = services.case_create(
                items=items,
                subject=subject,
                organisation=organisation,
                with_recovery_code=bool(payload.get("recovery_code")),
            )
        except ApplicationError:
            # A refused submission doesn't use up the quota (issue 10, finding 6).
            throttling.case_creation_refund(client=client_of(request))
            raise
    except ApplicationError as error:
        return _error(str(error.message))
    # Came through a caseworker's hand-off link, with the victim's consent.
    caseworkers.handoff_use(request=request, case=created.case)
    if organisation is None:
        _open_case(request, created.case)
    return JsonResponse(
        {
            "case_number": created.case.number,
            "pin": created.pin,
            "recovery_code": created.recovery_code,
            "expires_on": _expiry(created.case),
            "status_url": request.build_absolute_uri(reverse("web:status_login")),
        },
        status=201,
    )


# Server-side hashing, for when the browser can't ---------------------------------


@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, *, add: bool = False) -> HttpResponse:
    case = _session_case(request) if add else None
    if add and case is None:
        return redirect("web:status_login")
    subject = request.session.get(SESSION_SUBJECT, "")  # "" like None: not a subject
    if not add and subject not in Case.Subject.values:
        return redirect("web:start")
    form = forms.ServerHashingForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    kept: list[tuple[str, services.SubmittedItem]] = []
    too_large = int(request.META.get("CONTENT_LENGTH") or 0) > settings.TAKEBACK_MAX_UPLOAD_BYTES
    if request.method == "POST" and too_large:
        # The upload handler drops a body over the cap unread; say why.
        errors.append(
            _("These files are too large to send together (the limit is %(mb)d MB).")
            % {"mb": settings.TAKEBACK_MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    elif request.method == "POST" and form.is_valid():
        client = client_of(request)
        # The creation throttle is checked before anything is hashed, so a refused
        # request costs no decoding; the place it reserves is handed back unless a
        # case is created (refused submissions don't use up the quota).
        if case is None and not throttling.case_creation_allowed(client=client):
            errors.append(_("Too many cases were started from here. Please try later."))
        else:
            created = None
            try:
                # Good files are kept (as hashes) and bad ones named, so one damaged
                # file neither fails the batch nor makes the person choose again.
                kept = list(form.cleaned_data["kept"])
                uploads = form.cleaned_data["files"]
                for outcome in server_hashing.uploads_hash(uploads):
                    name = getattr(uploads[outcome.number - 1], "name", "") or _("File %(n)d") % {
                        "n": outcome.number
                    }
                    if outcome.item is not None:
                        kept.append((name, outcome.item))
                        continue
                    message = _hashing_message(outcome.error)
                    errors.append(_("%(name)s: %(message)s") % {"name": name, "message": message})
                items = [item for _name, item in kept]
                if not errors and case is not None:
                    services.hashes_add(case=case, items=items)
                    messages.success(request, _("Your images were added to your case."))
                    return redirect("web:status")
                if not errors:
                    created = services.case_create(
                        items=items,
                        subject=subject,
                        with_recovery_code=form.cleaned_data["recovery"],
                    )
            except ApplicationError as error:
                errors.append(str(error.message))
            finally:
                if case is None and created is None:
                    throttling.case_creation_refund(client=client)
            if created is not None:
                # POST/redirect/GET: a reload shows the same secrets, never a second case.
                return _show_created(
                    request,
                    created,
                    labels=_created_labels(items),
                    low_quality=[
                        n
                        for n, item in enumerate(items, start=1)
                        if item.media_kind == "image" and "pdq" not in item.hashes
                    ],
                )
    elif request.method == "POST":
        kept = form.cleaned_data.get("kept", []) if hasattr(form, "cleaned_data") else []
    kept, left_out = forms.kept_fit(kept)
    errors.extend(
        _("%(name)s: please send this file again on its own.") % {"name": name} for name in left_out
    )
    return render(
        request,
        "web/upload.html",
        {
            "form": form,
            "errors": errors,
            "add": add,
            "kept": [(name, selectors.item_label(item.hashes)) for name, item in kept],
            "kept_value": forms.kept_sign(kept) if kept else "",
            "consented": request.method == "POST" and bool(request.POST.get("consent")),
            "limits": _upload_limits(),
        },
    )


@require_safe
def created(request: HttpRequest, *, reset: bool = False) -> HttpResponse:
    shown = request.session.get(SESSION_CREATED) or {}
    case = Case.objects.filter(pk=shown["case"]).first() if shown.get("case") else None
    fresh = bool(shown) and time.time() - shown.get("at", 0) < SECRETS_SHOWN_SECONDS
    opened = sealing.unseal(
        shown.get("secrets", ""), purpose=_SECRETS_PURPOSE, max_age=SECRETS_SHOWN_SECONDS
    )
    if case is None or not fresh or opened is None or shown.get("reset") != reset:
        request.session.pop(SESSION_CREATED, None)
        return redirect("web:status")
    secrets = json.loads(opened)
    return render(
        request,
        "web/created.html",
        {
            "created": {
                "case": case,
                "pin": secrets["pin"],
                "recovery_code": secrets.get("recovery_code"),
            },
            "expires_on": _expiry(case),
            "reset": reset,
            # (label, frames shared or None for a photo); a plain label from an older session.
            "labels": [
                (entry, None) if isinstance(entry, str) else tuple(entry)
                for entry in shown.get("labels", [])
            ],
            # Files whose PDQ quality was too low: only digests kept.
            "low_quality": shown.get("low_quality", []),
            "strings": submit_page_strings(),
        },
    )


@sensitive_post_parameters()
@require_POST
def hash_one(request: HttpRequest, *, add: bool = False) -> JsonResponse:
    """Hash one file the browser can't open (e.g. HEIC), with consent, for the same submission.

    The file is hashed in memory and dropped (portal.cases.server_hashing); only its
    hashes come back, and the page adds them to the selection it is about to send.
    """
    if add and _session_case(request) is None:
        return _error(_("Your session has ended. Please open your case again."), 403)
    if not add and request.session.get(SESSION_SUBJECT) not in Case.Subject.values:
        return _error(_("Please answer the questions on the previous page first."), 403)
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.TAKEBACK_MAX_UPLOAD_BYTES:
        return _error(
            _("This file is too large to send (the limit is %(mb)d MB).")
            % {"mb": settings.TAKEBACK_MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    form = forms.HashOneForm(request.POST, request.FILES)
    if not form.is_valid():
        return _error(_("Please tick the box to agree before the file is sent."))
    (outcome,) = server_hashing.uploads_hash([form.cleaned_data["file"]])
    if outcome.item is None:
        return _error(_hashing_message(outcome.error))
    return JsonResponse({"item": forms.item_to_payload(outcome.item)})


# Case status: PIN login, status, add, withdraw, recovery --------------------------


@sensitive_post_parameters("pin")
@require_http_methods(["GET", "POST"])
def status_login(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and _session_case(request) is not None:
        return redirect("web:status")
    form = forms.CaseLoginForm(request.POST or None)
    error = lockout = None
    if request.method == "POST" and form.is_valid():
        result = sign_in.case_sign_in(
            number=form.cleaned_data["number"],
            pin=form.cleaned_data["pin"],
            client=client_of(request),
        )
        lockout = result.lockout
        if result.case is not None:
            _open_case(request, result.case)
            return redirect("web:status")
        error = (
            lockout_message(lockout)
            if lockout
            else _("That case number and PIN don't match. Please check them and try again.")
        )
        if lockout is None:
            left = throttling.secret_attempts_left(
                action="pin", number=form.cleaned_data["number"], client=client_of(request)
            )
            if left == 1:
                error += " " + _(
                    "You have one more try. After that, attempts are paused for %(minutes)d "
                    "minutes to keep your case safe, even with the right PIN. If you aren't "
                    "sure of the PIN, you can use your recovery code instead."
                ) % {"minutes": max(1, settings.TAKEBACK_PIN_LOCKOUT_SECONDS // 60)}
    locked = error is not None and lockout is not None
    return render(
        request, "web/status_login.html", {"form": form, "error": error, "locked": locked}
    )


@require_safe
def status(request: HttpRequest) -> HttpResponse:
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    # The secrets of the server path were for the page that showed them once.
    request.session.pop(SESSION_CREATED, None)
    distribution = case_distribution(case=case)
    items = selectors.case_items(case=case)
    return render(
        request,
        "web/status.html",
        {
            "case": case,
            "items": [(item, distribution.per_file.get(item.item_id)) for item in items],
            "files_active": sum(1 for item in items if item.is_active),
            "files_withdrawn": sum(1 for item in items if not item.is_active),
            "distribution": distribution,
            "expires_on": _expiry(case),
        },
    )


@require_POST
def status_logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("web:home")


@require_safe
def status_add(request: HttpRequest) -> HttpResponse:
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    if case.status != Case.Status.ACTIVE:
        return redirect("web:status")
    return render(
        request,
        "web/submit.html",
        {
            "mode": "add",
            "endpoint": reverse("web:status_hashes"),
            "case": case,
            "strings": submit_page_strings(),
        },
    )


@require_POST
def status_hashes(request: HttpRequest) -> JsonResponse:
    case = _session_case(request)
    if case is None:
        return _error(_("Your session has ended. Please open your case again."), 403)
    try:
        items = forms.items_from_payload(_json_body(request))
        added = services.hashes_add(case=case, items=items)
    except ApplicationError as error:
        return _error(str(error.message))
    messages.success(request, _("Your images were added to your case."))
    return JsonResponse({"added": len(added), "status_url": reverse("web:status")}, status=201)


@require_http_methods(["GET", "POST"])
def item_withdraw(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    item = next((i for i in selectors.case_items(case=case) if i.item_id == item_id), None)
    if item is None or not item.is_active:
        return redirect("web:status")
    if request.method == "POST":
        services.item_withdraw(case=case, item_id=item_id)
        messages.success(
            request,
            _("The hashes of that file were withdrawn. Platforms are told to remove them."),
        )
        return redirect("web:status")
    return render(request, "web/confirm_withdraw.html", {"case": case, "item": item})


@require_http_methods(["GET", "POST"])
def case_withdraw(request: HttpRequest) -> HttpResponse:
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    if case.status != Case.Status.ACTIVE:
        return redirect("web:status")
    if request.method == "POST":
        services.case_withdraw(case=case)
        messages.success(
            request,
            _("Your case was withdrawn. Platforms are told to remove all of its hashes."),
        )
        return redirect("web:status")
    return render(request, "web/confirm_withdraw.html", {"case": case, "item": None})


@require_POST
def case_unlink(request: HttpRequest) -> HttpResponse:
    """The victim stops sharing their case with the support organisation that helped."""
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    organisation = charities_services.case_unlink_by_victim(case=case)
    if organisation is not None:
        messages.success(
            request,
            _("%(organisation)s no longer sees this case. Nothing else about it has changed.")
            % {"organisation": organisation.name},
        )
    return redirect("web:status")


@require_POST
def case_renew(request: HttpRequest) -> HttpResponse:
    """Keep the case's hashes shared for another full lifetime (issue 9: retention)."""
    case = _session_case(request)
    if case is None:
        return redirect("web:status_login")
    try:
        services.case_renew(case=case)
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your case was renewed. Your hashes stay shared."))
    return redirect("web:status")


@sensitive_post_parameters("recovery_code")
@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    form = forms.RecoveryForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        result = sign_in.case_recover(
            number=form.cleaned_data["number"],
            recovery_code=form.cleaned_data["recovery_code"],
            client=client_of(request),
        )
        if result.lockout is not None:
            error = lockout_message(result.lockout)
        elif result.created is None:
            error = _(
                "That case number and recovery code don't match. Please check them and try again."
            )
        else:
            return _show_created(request, result.created, reset=True)
    return render(request, "web/recover.html", {"form": form, "error": error})
