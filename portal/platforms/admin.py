"""Operators' admin for platforms and their keys (secrets are never shown)."""

from django.contrib import admin, messages

from portal.platforms import services
from portal.platforms.models import ApiKey, HashFeedback, Platform


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["kind", "label", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are issued with `manage.py create_platform` / the API


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "applied_seq", "applied_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    fields = ["name", "is_active", "applied_seq", "applied_at", "created_at"]
    readonly_fields = ["applied_seq", "applied_at", "created_at"]
    inlines = [ApiKeyInline]


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
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)


@admin.register(HashFeedback)
class HashFeedbackAdmin(admin.ModelAdmin):
    list_display = ["platform", "submitted_hash", "outcome", "updated_at"]
    list_filter = ["outcome", "platform"]
    readonly_fields = ["platform", "submitted_hash", "outcome", "created_at", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False
