"""Operators' admin for staff roles, invitations and hand-off links, and the admin site's
second factor: the operators' area opens only to a session verified with TOTP or a
recovery code, and its sign-in is the staff sign-in (throttled, two steps)."""

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.charities import admin_views, two_factor
from portal.charities.models import CaseNote, HandoffLink, Invitation, StaffRole


class StaffAdminSite(OTPAdminSite):
    """The admin site with django-otp's check; sign-in goes through the staff pages."""

    site_header = "Takeback operators"
    site_title = "Takeback operators"

    index_template = "charities/admin_index.html"

    def get_urls(self) -> list:
        own = [
            path(
                "onboarding/platform/",
                self.admin_view(admin_views.platform_onboard),
                name="charities_platform_onboard",
            ),
            path(
                "onboarding/platform/<int:platform_id>/keys/",
                self.admin_view(admin_views.platform_keys),
                name="charities_platform_keys",
            ),
            path(
                "onboarding/organisation/",
                self.admin_view(admin_views.organisation_onboard),
                name="charities_organisation_onboard",
            ),
            path(
                "statistics/",
                self.admin_view(admin_views.statistics_page),
                name="charities_statistics",
            ),
        ]
        return own + super().get_urls()

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # Django's admin form would accept a password alone; ours asks for the code too.
        if request.user.is_authenticated and getattr(request.user, "is_verified", bool)():
            # Signed in with both factors but not an operator: no loop back to sign-in.
            raise PermissionDenied
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index"), reverse("web:org_login")
        )


# django-otp's own admin pages show a TOTP device's key (and a QR code of it) and the
# recovery codes: whoever reads them can pass as that person's second factor, so no
# operator page shows them. Operators reset a lost authenticator with the staff roles
# action below instead.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role", "organisation"]
    autocomplete_fields = ["user"]
    actions = ["grant_new_authenticator"]

    @admin.action(description="Let them set up a new authenticator (their current one stops)")
    def grant_new_authenticator(self, request, queryset) -> None:
        for row in queryset.select_related("user"):
            two_factor.enrolment_grant(user=row.user, by=request.user)
        self.message_user(
            request, "At their next sign-in they set up a new authenticator app.", messages.SUCCESS
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organisation", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["organisation", "role"]
    # The token digest is useless to anyone and not shown; invitations are made with the
    # "Invite the first admin" action of an organisation or by its org admins.
    fields = ["organisation", "email", "role", "created_at", "expires_at", "accepted_at"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HandoffLink)
class HandoffLinkAdmin(admin.ModelAdmin):
    list_display = ["reference", "organisation", "created_at", "expires_at", "used_at"]
    list_filter = ["organisation"]
    fields = ["reference", "organisation", "created_at", "expires_at", "used_at", "revoked_at"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CaseNote)
class CaseNoteAdmin(admin.ModelAdmin):
    list_display = ["case", "organisation", "action", "created_at"]
    list_filter = ["action", "organisation"]
    fields = ["case", "organisation", "author", "action", "text", "follow_up_on", "created_at"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups

    def has_add_permission(self, request, obj=None) -> bool:
        return False
