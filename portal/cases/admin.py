"""Operators' admin for cases and hashes.

Read-only by design: operators can look at hashes and quarantine them, but no
admin page shows or accepts an image, and PIN hashes are never displayed.
"""

from django.contrib import admin, messages

from portal.cases import services
from portal.cases.models import Case, Organisation, SubmittedHash


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SubmittedHashInline(admin.TabularInline):
    model = SubmittedHash
    fields = ["algorithm", "value", "quality", "media_kind", "status", "feed_seq"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "subject", "organisation", "created_at", "expires_at"]
    list_filter = ["status", "subject", "organisation"]
    search_fields = ["number"]
    # pin_hash and recovery_code_hash are deliberately absent.
    fields = [
        "number",
        "status",
        "subject",
        "organisation",
        "created_at",
        "withdrawn_at",
        "expires_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    inlines = [SubmittedHashInline]


@admin.register(SubmittedHash)
class SubmittedHashAdmin(ReadOnlyAdmin):
    list_display = [
        "algorithm",
        "value",
        "quality",
        "media_kind",
        "status",
        "feed_seq",
        "created_at",
    ]
    list_filter = ["algorithm", "media_kind", "status"]
    search_fields = ["value"]
    # list_display here is all field names; the stubs type its items as str | callable.
    fields = [*list_display, "item_id", "removed_at", "updated_at"]  # type: ignore[list-item]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    actions = ["quarantine"]

    @admin.action(description="Quarantine: take out of the feed as removals")
    def quarantine(self, request, queryset) -> None:
        count = services.hashes_quarantine(hashes=list(queryset))
        self.message_user(request, f"{count} hash(es) quarantined.", messages.SUCCESS)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
