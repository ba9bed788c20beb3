"""Pages for caseworkers of a support organisation: sign-in and their cases.

Caseworkers never see images; they help a victim by phone or chat.
"""

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from portal.cases import selectors, sign_in
from portal.platforms.selectors import case_distribution
from portal.web.helpers import client_of, lockout_message


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class OrgLoginView(auth_views.LoginView):
    """Caseworker sign-in; wrong passwords are throttled like PINs."""

    template_name = "web/org_login.html"
    redirect_authenticated_user = True

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

    def form_invalid(self, form: Any) -> HttpResponse:
        sign_in.staff_sign_in_failed(**self._who())
        return super().form_invalid(form)


@require_POST
def org_logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("web:home")


@login_required
@require_safe
def org_cases(request: HttpRequest) -> HttpResponse:
    organisations = list(selectors.organisations_of_user(user=request.user))
    rows = [
        {
            "organisation": organisation,
            "cases": [
                {"case": case, "distribution": case_distribution(case=case)}
                for case in selectors.organisation_cases(organisation=organisation)[:200]
            ],
        }
        for organisation in organisations
    ]
    # A caseworker helps a victim through the same eligibility questions.
    return render(request, "web/org_cases.html", {"rows": rows})
