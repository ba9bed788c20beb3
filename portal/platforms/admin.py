"""Operators' admin for platforms and their keys (secrets are never shown)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from portal.platforms import decoys, selectors, services
from portal.platforms.models import (
    ApiKey,
    HashFeedback,
    Platform,
    WebhookDelivery,
    WebhookEndpoint,
)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["kind", "label", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are issued with `manage.py create_platform` / the API


class TraceLeakForm(forms.Form):
    hashes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
        max_length=5_000_000,
        help_text="Any text: every run of 16-64 hexadecimal digits is read as a hash.",
    )


class RemovalLagFilter(admin.SimpleListFilter):
    """Platforms that have not acknowledged applying every removal so far."""

    title = "removals applied"
    parameter_name = "removals"

    def lookups(self, request, model_admin):
        return [("lagging", "Lagging behind removals"), ("current", "All removals applied")]

    def queryset(self, request, queryset):
        last = selectors.last_removal_seq()
        if self.value() == "lagging":
            return queryset.filter(applied_seq__lt=last)
        if self.value() == "current":
            return queryset.filter(applied_seq__gte=last)
        return queryset


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_active",
        "fetched_seq",
        "fetched_at",
        "applied_seq",
        "applied_at",
        "removals_pending",
        "created_at",
    ]
    list_filter = ["is_active", RemovalLagFilter]
    search_fields = ["name"]
    # list_display here is all field names; the stubs type its items as str | callable.
    fields = list_display  # type: ignore[assignment]
    # Only the name and the switch are for operators to edit; positions come from the API.
    readonly_fields = [f for f in fields if f not in ("name", "is_active")]  # type: ignore[misc]
    inlines = [ApiKeyInline]
    actions = ["give_decoys"]
    change_list_template = "admin/platforms/platform_change_list.html"

    def has_delete_permission(self, request, obj=None) -> bool:
        # Switch a platform off instead: deleting it would drop its feedback
        # (corroboration, quarantine votes) and its decoys (leak tracing).
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        # A platform made by the plain form would have no keys and no decoys:
        # onboarding (portal/charities/admin_views.py) issues both.
        return redirect("admin:charities_platform_onboard")

    def get_urls(self):
        return [
            path(
                "trace-leak/",
                self.admin_site.admin_view(self.trace_leak_view),
                name="platforms_platform_trace_leak",
            ),
            *super().get_urls(),
        ]

    def trace_leak_view(self, request: HttpRequest) -> TemplateResponse:
        """Operators paste a found hash list and see whose decoys it holds."""
        form = TraceLeakForm(request.POST or None)
        context = {**self.admin_site.each_context(request), "form": form, "traced": False}
        if request.method == "POST" and form.is_valid():
            read, traces = decoys.decoys_trace(text=form.cleaned_data["hashes"])
            context.update(traced=True, read=read, traces=traces)
        return TemplateResponse(request, "admin/platforms/trace_leak.html", context)

    @admin.action(description="Give the selected platforms their decoys (if missing)")
    def give_decoys(self, request, queryset) -> None:
        made = sum(len(decoys.decoys_create(platform=p)) for p in queryset)
        self.message_user(request, f"{made} decoy(s) created.", messages.SUCCESS)

    @admin.display(description="removals not yet applied")
    def removals_pending(self, obj: Platform) -> int:
        return selectors.platform_removals_pending(platform=obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "platform", "kind", "label", "last_used_at", "revoked_at"]
    list_filter = ["kind", "platform"]
    fields = [
        "platform",
        "kind",
        "label",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    actions = ["revoke"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: revocations are logged and keep the key's history

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key, user=request.user)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)


@admin.register(HashFeedback)
class HashFeedbackAdmin(admin.ModelAdmin):
    list_display = ["platform", "submitted_hash", "outcome", "updated_at"]
    list_filter = ["outcome", "platform"]
    readonly_fields = ["platform", "submitted_hash", "outcome", "created_at", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # platforms' reports are votes toward quarantine: never erased by hand


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["id", "status", "attempts", "last_status_code", "last_error", "first_seq", "last_seq"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ["-created_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints and their deliveries; the signing secret is never shown."""

    list_display = ["platform", "url", "is_active", "enqueued_seq", "created_at"]
    list_filter = ["is_active", "platform"]
    fields = ["platform", "url", "is_active", "enqueued_seq", "created_at", "deleted_at"]
    readonly_fields = ["platform", "url", "enqueued_seq", "created_at", "deleted_at"]
    inlines = [WebhookDeliveryInline]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # platforms register their own endpoints through the API


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status"]
    fields = [
        "id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "first_seq",
        "last_seq",
        "created_at",
        "delivered_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups

    def has_add_permission(self, request, obj=None) -> bool:
        return False
