"""Operators' admin for cases and hashes.

Read-only by design: operators can look at hashes and act on them only through
services (withdraw, expire, quarantine), each of which takes hashes out of the
feed as removals and is written to the audit log. Nothing can be deleted here: a
deleted hash would vanish without a removal, and platforms would keep blocking it
(issue 9). No admin page shows or accepts an image, and PIN hashes are never
displayed.
"""

from django.contrib import admin, messages
from django.db import transaction

from portal.cases import services
from portal.cases.models import Case, Organisation, SubmittedHash
from portal.trust.audit import OPERATOR, audit_record, operator_name
from portal.trust.models import ReviewItem
from portal.trust.queue import reviews_open


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _audit(request, *, action: str, target: str, detail: dict) -> None:
    audit_record(
        actor_kind=OPERATOR,
        actor=operator_name(request.user),
        action=action,
        target=target,
        detail=detail,
        reason="admin action",
    )


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
    actions = ["withdraw", "expire"]

    @admin.action(description="Withdraw: take every hash out of the feed as removals")
    def withdraw(self, request, queryset) -> None:
        removed = self._remove_each(request, queryset, services.case_withdraw, "case_withdraw")
        self.message_user(request, f"{removed} hash(es) withdrawn.", messages.SUCCESS)

    @admin.action(description="Expire now: take every hash out of the feed as removals")
    def expire(self, request, queryset) -> None:
        removed = self._remove_each(request, queryset, services.case_expire, "case_expire")
        self.message_user(request, f"{removed} hash(es) expired.", messages.SUCCESS)

    @staticmethod
    def _remove_each(request, queryset, remove, action: str) -> int:
        """Apply a removal service to each case, one transaction and audit row per case."""
        removed = 0
        for case in queryset:
            with transaction.atomic():
                count = remove(case=case)
                _audit(request, action=action, target=f"case:{case.pk}", detail={"hashes": count})
            removed += count
        return removed


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

    @admin.action(description="Quarantine: take out of the feed as removals, for review")
    def quarantine(self, request, queryset) -> None:
        with transaction.atomic():
            rows = list(queryset.filter(status=SubmittedHash.Status.ACTIVE))
            count = services.hashes_quarantine(hashes=rows)
            held = SubmittedHash.objects.filter(
                pk__in=[r.pk for r in rows], status=SubmittedHash.Status.QUARANTINED
            )
            reviews_open(hashes=held, reason=ReviewItem.Reason.OPERATOR, evidence={})
            for row in held:
                _audit(request, action="hash_quarantine", target=f"hash:{row.pk}", detail={})
        self.message_user(
            request, f"{count} hash(es) quarantined; see the review queue.", messages.SUCCESS
        )


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
