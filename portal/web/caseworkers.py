"""Pages for staff of support organisations: sign-in with a second factor, their cases,
hand-off links, their staff; and the victim's landing page of a hand-off link.

Caseworkers never see images or PINs; they help a victim by phone or chat.
Every staff page needs a session verified with a second factor
(`staff_required`): a password alone opens nothing (portal/charities/two_factor.py).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import login as otp_login

from portal.cases import selectors as case_selectors
from portal.cases import sign_in, throttling
from portal.cases.models import Organisation
from portal.charities import qr, selectors, services, two_factor
from portal.charities.models import Role
from portal.exceptions import ApplicationError
from portal.web import staff_forms
from portal.web.helpers import client_of, lockout_message

# Set by the hand-off landing page when the victim consented: the link's id.
# views.submit_hashes hands it to charities.services.handoff_case_link.
SESSION_HANDOFF = "tb_handoff"

CASES_PER_PAGE = 50


def _verified(request: HttpRequest) -> bool:
    """Signed in, and the session passed the second factor (django-otp's middleware)."""
    user = request.user
    return bool(user.is_authenticated and getattr(user, "is_verified", lambda: False)())


def _int(value: str | None) -> int:
    """A row id from a form field; 0 (no row) for anything else."""
    return int(value) if value and value.isdigit() else 0


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in with a password *and* a second factor, or back to sign-in."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _verified(request):
            return redirect_to_login(request.get_full_path(), reverse("web:org_login"))
        return view(request, *args, **kwargs)

    return wrapped


def _organisation(request: HttpRequest) -> Organisation:
    """The organisation a page is about: ?org=slug, else the member's first one."""
    mine = case_selectors.organisations_of_user(user=request.user)
    slug = request.POST.get("org") or request.GET.get("org")
    organisation = mine.filter(slug=slug).first() if slug else mine.first()
    if organisation is None:
        raise Http404
    return organisation


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:org_cases")


# Sign-in: password, then a second factor ---------------------------------------


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class OrgLoginView(auth_views.LoginView):
    """Staff sign-in, step one; wrong passwords are throttled like PINs.

    A right password signs nobody in: it only lets the browser on to the second
    factor page for a few minutes.
    """

    template_name = "web/org_login.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Only a session verified with the second factor counts as signed in here.
        if _verified(request):
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def _who(self) -> dict[str, str]:
        return {
            "username": self.request.POST.get("username", ""),
            "client": client_of(self.request),
        }

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        lockout = sign_in.staff_sign_in_lockout(**self._who())
        if lockout is not None:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, lockout_message(lockout))
            return self.render_to_response(self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        two_factor.pending_start(
            request=self.request, user=user, next_url=self.get_redirect_url() or ""
        )
        return redirect("web:org_two_factor")

    def form_invalid(self, form: Any) -> HttpResponse:
        sign_in.staff_sign_in_failed(**self._who())
        return super().form_invalid(form)


def _finish_sign_in(request: HttpRequest, user: Any, device: Any) -> str:
    next_url = _safe_next(request, two_factor.pending_next(request=request))
    auth_login(request, user, backend=two_factor.pending_backend(request=request))
    otp_login(request, device)
    return next_url


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def org_two_factor(request: HttpRequest) -> HttpResponse:
    """Step two: a TOTP code or a recovery code; or, the first time, set up the app."""
    user = two_factor.pending_user(request=request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect("web:org_login")
    client = client_of(request)
    if not two_factor.has_second_factor(user=user):
        if not two_factor.enrolment_allowed(user=user):
            return render(request, "web/org_two_factor_locked.html", status=403)
        return _two_factor_setup(request, user)
    form = staff_forms.SecondFactorForm(request.POST or None)
    if request.method == "POST":
        who = {"username": user.get_username(), "client": client}
        lockout = sign_in.staff_sign_in_lockout(**who)
        if lockout is not None:
            form.add_error(None, lockout_message(lockout))
        elif form.is_valid():
            device = two_factor.second_factor_verify(user=user, token=form.cleaned_data["token"])
            if device is not None:
                return redirect(_finish_sign_in(request, user, device))
            sign_in.staff_sign_in_failed(**who)
            form.add_error("token", _("That code did not work. Codes change every 30 seconds."))
    return render(request, "web/org_two_factor.html", {"form": form})


def _two_factor_setup(request: HttpRequest, user: Any) -> HttpResponse:
    device = two_factor.totp_device_pending(user=user)
    form = staff_forms.TotpSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        enrolled = two_factor.totp_confirm(user=user, token=form.cleaned_data["token"])
        if enrolled is not None:
            next_url = _finish_sign_in(request, user, enrolled.device)
            # Shown once, in this response only.
            return render(
                request,
                "web/org_recovery_codes.html",
                {"codes": enrolled.recovery_codes, "next": next_url},
            )
        form.add_error("token", _("That code did not work. Check the time on your phone."))
    return render(
        request,
        "web/org_two_factor_setup.html",
        {
            "form": form,
            "qr_svg": two_factor.totp_qr_svg(device=device),
            "secret": two_factor.totp_secret_text(device=device),
        },
    )


@never_cache
@require_POST
@staff_required
def org_recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = two_factor.recovery_codes_replace(user=request.user)
    return render(
        request, "web/org_recovery_codes.html", {"codes": codes, "next": reverse("web:org_cases")}
    )


@require_POST
def org_logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("web:home")


# Password reset by e-mail (Django's views, our templates) ---------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Reset by e-mail; asking again and again from one client is throttled like PINs.

    Past the limit the page says the same as always but sends nothing, so it can't be
    used to flood a staff member's inbox, nor to learn which addresses have accounts.
    """

    def form_valid(self, form: Any) -> HttpResponse:
        scope = {
            "action": "staff-reset",
            "number": form.cleaned_data["email"].lower()[:150],
            "client": client_of(self.request),
        }
        if throttling.secret_lockout_check(**scope) is not None:
            return redirect(self.get_success_url())
        throttling.secret_failure_record(**scope)  # every request counts, right or wrong
        return super().form_valid(form)


password_reset = PasswordResetView.as_view(
    template_name="web/org_password_reset.html",
    email_template_name="web/org_password_reset_email.txt",
    subject_template_name="web/org_password_reset_subject.txt",
    success_url=reverse_lazy("web:org_password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="web/org_password_reset_done.html"
)
# A new password still needs the second factor at the next sign-in: no login here.
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="web/org_password_reset_confirm.html",
    success_url=reverse_lazy("web:org_password_reset_complete"),
    post_reset_login=False,
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="web/org_password_reset_complete.html"
)


# Cases ---------------------------------------------------------------------------


def _base_context(request: HttpRequest, organisation: Organisation) -> dict[str, Any]:
    organisations = list(case_selectors.organisations_of_user(user=request.user))
    return {
        "organisation": organisation,
        "organisations": organisations,
        "is_org_admin": services.staff_role(user=request.user, organisation=organisation)
        == Role.ADMIN,
    }


@require_safe
def org_cases(request: HttpRequest) -> HttpResponse:
    if not _verified(request):
        return redirect_to_login(request.get_full_path(), reverse("web:org_login"))
    organisations = case_selectors.organisations_of_user(user=request.user)
    if not organisations.exists():
        return render(request, "web/org_cases.html", {"organisation": None})
    organisation = _organisation(request)
    search = staff_forms.CaseSearchForm(request.GET)
    query = search.cleaned_data if search.is_valid() else {"q": "", "show": ""}
    rows = selectors.organisation_case_rows(
        organisation=organisation, search=query["q"], show=query["show"]
    )
    page = Paginator(rows, CASES_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "web/org_cases.html",
        {
            **_base_context(request, organisation),
            "search": search,
            "page": page,
            "platforms_total": selectors.platforms_counted().count(),
            "query_string": params.urlencode(),
            "nav": "cases",
        },
    )


def _own_case(request: HttpRequest, organisation: Organisation, number: str) -> Any:
    case = selectors.organisation_case(organisation=organisation, number=number)
    if case is None:  # another organisation's case looks like no case at all
        raise Http404
    return case


@require_http_methods(["GET", "POST"])
@staff_required
def org_case(request: HttpRequest, number: str) -> HttpResponse:
    organisation = _organisation(request)
    case = _own_case(request, organisation, number)
    note_form = staff_forms.CaseNoteForm(prefix="note")
    request_form = staff_forms.CaseRequestForm(prefix="req")
    if request.method == "POST":
        try:
            if "note-text" in request.POST:
                note_form = staff_forms.CaseNoteForm(request.POST, prefix="note")
                if note_form.is_valid():
                    services.case_note_add(
                        organisation=organisation,
                        case=case,
                        by=request.user,
                        text=note_form.cleaned_data["text"],
                        follow_up_on=note_form.cleaned_data["follow_up_on"],
                    )
                    messages.success(request, _("Note saved."))
                    return redirect(request.get_full_path())
            else:
                request_form = staff_forms.CaseRequestForm(request.POST, prefix="req")
                if request_form.is_valid():
                    data = request_form.cleaned_data
                    act = (
                        services.case_renew_on_request
                        if data["action"] == "renew"
                        else services.case_withdraw_on_request
                    )
                    act(
                        organisation=organisation, case=case, by=request.user, reason=data["reason"]
                    )
                    messages.success(
                        request,
                        _("The case was renewed.")
                        if data["action"] == "renew"
                        else _("The case was withdrawn; platforms are told to remove its hashes."),
                    )
                    return redirect(request.get_full_path())
        except ApplicationError as error:
            messages.error(request, str(error.message))
            return redirect(request.get_full_path())
    template = "web/org_case_print.html" if request.GET.get("print") else "web/org_case.html"
    return render(
        request,
        template,
        {
            **_base_context(request, organisation),
            "case": case,
            "platforms_total": selectors.platforms_counted().count(),
            "timeline": selectors.organisation_case_timeline(organisation=organisation, case=case),
            "notes": selectors.organisation_case_notes(organisation=organisation, case=case),
            "note_form": note_form,
            "request_form": request_form,
            "nav": "cases",
        },
    )


@sensitive_post_parameters("pin")
@require_http_methods(["GET", "POST"])
@staff_required
def org_case_link(request: HttpRequest) -> HttpResponse:
    """Link a case made side by side when the organisation was not chosen (number + PIN)."""
    organisation = _organisation(request)
    form = staff_forms.CaseLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = sign_in.case_sign_in(
            number=form.cleaned_data["number"],
            pin=form.cleaned_data["pin"],
            client=client_of(request),
        )
        if result.lockout is not None:
            form.add_error(None, lockout_message(result.lockout))
        elif result.case is None:
            form.add_error(None, _("That case number and PIN do not match."))
        else:
            try:
                services.case_link_with_pin(
                    organisation=organisation,
                    case=result.case,
                    by=request.user,
                    reason=_("Linked with the case number and PIN"),
                )
            except ApplicationError as error:
                form.add_error(None, str(error.message))
            else:
                messages.success(request, _("The case is now linked to your organisation."))
                return redirect(
                    reverse("web:org_case", args=[result.case.number]) + f"?org={organisation.slug}"
                )
    return render(
        request,
        "web/org_case_link.html",
        {**_base_context(request, organisation), "form": form, "nav": "link"},
    )


# Hand-off links ----------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def org_handoffs(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    created = None
    if request.method == "POST":
        if "revoke" in request.POST:
            link = (
                selectors.organisation_handoff_links(organisation=organisation)
                .filter(pk=_int(request.POST.get("revoke")))
                .first()
            )
            if link is None:
                raise Http404
            services.handoff_revoke(link=link)
            messages.success(request, _("The link no longer works."))
            return redirect(reverse("web:org_handoffs") + f"?org={organisation.slug}")
        created = services.handoff_create(organisation=organisation, created_by=request.user)
    context = {
        **_base_context(request, organisation),
        "links": selectors.organisation_handoff_links(organisation=organisation)[:50],
        "nav": "handoff",
    }
    if created is not None:
        # The token is in this response only: the caseworker reads it out or sends it.
        url = request.build_absolute_uri(reverse("web:handoff", args=[created.token]))
        context.update(
            {
                "created": created.link,
                "url": url,
                "qr_svg": qr.qr_svg(text=url, title=_("QR code of the link")),
                "code": created.code,
                "code_url": request.build_absolute_uri(reverse("web:handoff_code")),
            }
        )
    return render(request, "web/org_handoffs.html", context)


def _handoff_landing(request: HttpRequest, link: Any, *, code: str = "") -> HttpResponse:
    # With a typed code, the first post is the code itself; the consent comes next.
    consent_step = request.method == "POST" and ("step" in request.POST or not code)
    form = staff_forms.HandoffConsentForm(request.POST if consent_step else None)
    if form.is_bound and form.is_valid():
        if form.cleaned_data["consent"]:
            request.session[SESSION_HANDOFF] = link.pk
        else:
            request.session.pop(SESSION_HANDOFF, None)
        return redirect("web:start")
    return render(
        request,
        "charities/handoff.html",
        {"form": form, "organisation_name": link.organisation.name, "code": code},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def handoff(request: HttpRequest, token: str) -> HttpResponse:
    """The victim's landing page of a hand-off link, on their own phone."""
    link = services.handoff_find(token=token)
    if link is None:
        return render(request, "charities/handoff_invalid.html", status=404)
    return _handoff_landing(request, link)


@never_cache
@require_http_methods(["GET", "POST"])
def handoff_code(request: HttpRequest) -> HttpResponse:
    """The same, for a code the caseworker read out; wrong codes are throttled per client."""
    form = staff_forms.HandoffCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = services.handoff_code_normalise(form.cleaned_data["code"])
        scope = {"action": "handoff", "number": code or "-", "client": client_of(request)}
        lockout = throttling.secret_lockout_check(**scope)
        link = None if lockout else services.handoff_find(code=code)
        if lockout is not None:
            form.add_error(None, lockout_message(lockout))
        elif link is None:
            throttling.secret_failure_record(**scope)
            form.add_error("code", _("That code does not work. Check it, or ask for a new one."))
        else:
            return _handoff_landing(request, link, code=form.cleaned_data["code"])
    return render(request, "charities/handoff_code.html", {"form": form})


# Staff of an organisation ------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def org_staff(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    if services.staff_role(user=request.user, organisation=organisation) != Role.ADMIN:
        raise Http404
    form = staff_forms.InvitationForm(request.POST if "email" in request.POST else None)
    invited = None
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                member = organisation.members.filter(pk=_int(request.POST.get("remove"))).first()
                if member is None:
                    raise Http404
                services.membership_remove(organisation=organisation, user=member, by=request.user)
                messages.success(request, _("%(name)s was removed.") % {"name": member})
                return redirect(reverse("web:org_staff") + f"?org={organisation.slug}")
            if "make_role" in request.POST:
                member = organisation.members.filter(pk=_int(request.POST.get("member"))).first()
                if member is None:
                    raise Http404
                services.membership_role_set(
                    organisation=organisation,
                    user=member,
                    role=request.POST.get("make_role", ""),
                    by=request.user,
                )
                messages.success(request, _("%(name)s's role was changed.") % {"name": member})
                return redirect(reverse("web:org_staff") + f"?org={organisation.slug}")
            if "revoke" in request.POST:
                invitation = (
                    selectors.organisation_invitations_open(organisation=organisation)
                    .filter(pk=_int(request.POST.get("revoke")))
                    .first()
                )
                if invitation is None:
                    raise Http404
                services.invitation_revoke(invitation=invitation)
                messages.success(request, _("The invitation no longer works."))
                return redirect(reverse("web:org_staff") + f"?org={organisation.slug}")
            if form.is_valid():
                invited = services.invitation_create(
                    organisation=organisation,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    created_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
                form = staff_forms.InvitationForm()
        except ApplicationError as error:
            messages.error(request, str(error.message))
            return redirect(reverse("web:org_staff") + f"?org={organisation.slug}")
    return render(
        request,
        "web/org_staff.html",
        {
            **_base_context(request, organisation),
            "staff": selectors.organisation_staff(organisation=organisation),
            "invitations": selectors.organisation_invitations_open(organisation=organisation),
            "form": form,
            "invited": invited,
            "nav": "staff",
        },
    )


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def org_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: choose a username and password; then set up the second factor."""
    invitation = services.invitation_find(token=token)
    if invitation is None:
        return render(request, "web/org_invitation_invalid.html", status=404)
    if _verified(request):
        return _invitation_for_signed_in(request, token, invitation)
    form = staff_forms.AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except ApplicationError as error:
            form.add_error(None, str(error.message))
        except ValidationError as error:  # the password validators
            form.add_error("password", error)
        else:
            two_factor.pending_start(request=request, user=user, next_url="")
            return redirect("web:org_two_factor")
    return render(
        request,
        "web/org_invitation.html",
        {"form": form, "invitation": invitation},
    )


def _invitation_for_signed_in(request: HttpRequest, token: str, invitation: Any) -> HttpResponse:
    """Someone already signed in with both factors joins with the account they have."""
    error = ""
    if request.method == "POST":
        try:
            organisation = services.invitation_accept_existing(token=token, user=request.user)
        except ApplicationError as failure:
            error = str(failure.message)
        else:
            messages.success(request, _("You joined %(name)s.") % {"name": organisation.name})
            return redirect(reverse("web:org_cases") + f"?org={organisation.slug}")
    return render(
        request,
        "web/org_invitation_join.html",
        {"invitation": invitation, "error": error},
    )


def handoff_use(*, request: HttpRequest, case: Any) -> None:
    """After a submission: link the new case if this browser came through a hand-off link."""
    link_id = request.session.pop(SESSION_HANDOFF, None)
    if link_id is not None and case.organisation_id is None:
        services.handoff_case_link(link_id=link_id, case=case)
