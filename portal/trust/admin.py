"""Operators' admin for the trust app: the review queue, the benign list, the audit log.

Decisions go through services (portal/trust/review.py) and need a reason; the audit
log is read-only (no add, change or delete) and filterable by actor, action and date.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse

from portal.exceptions import ApplicationError
from portal.trust import review
from portal.trust.audit import OPERATOR, audit_record, operator_name
from portal.trust.models import AuditEvent, BenignHash, ReviewItem


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ["submitted_hash", "reason", "state", "opened_at", "decided_at", "decided_by"]
    list_filter = ["state", "reason"]
    fields = [
        "submitted_hash",
        "reason",
        "state",
        "evidence",
        "opened_at",
        "decided_at",
        "decided_by",
        "note",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups
    actions = ["restore", "remove"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _decide(self, request, queryset, *, action: str, title: str, service):
        note = request.POST.get("note", "").strip()
        if "apply" not in request.POST or not note:
            return TemplateResponse(
                request,
                "admin/trust/review_decide.html",
                {
                    **self.admin_site.each_context(request),
                    "title": title,
                    "reviews": list(queryset),
                    "action": action,
                },
            )
        done = 0
        for item in queryset:
            try:
                service(review=item, user=request.user, note=note)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{item}: {error.message}", messages.WARNING)
        self.message_user(request, f"{done} review(s) decided.", messages.SUCCESS)
        return None

    @admin.action(description="Restore: back in the feed as adds (asks for a reason)")
    def restore(self, request, queryset):
        return self._decide(
            request, queryset, action="restore", title="Restore", service=review.review_restore
        )

    @admin.action(description="Remove for good: stays out of the feed (asks for a reason)")
    def remove(self, request, queryset):
        return self._decide(
            request, queryset, action="remove", title="Remove", service=review.review_remove
        )


@admin.register(BenignHash)
class BenignHashAdmin(admin.ModelAdmin):
    list_display = ["label", "algorithm", "value", "source", "created_at"]
    list_filter = ["source", "algorithm"]
    search_fields = ["label", "value"]
    fields = ["algorithm", "value", "label"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # add a new entry instead: every change is one audit row

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            obj.source = BenignHash.Source.OPERATOR
            obj.value = obj.value.strip().lower()
            super().save_model(request, obj, form, change)
            audit_record(
                actor_kind=OPERATOR,
                actor=operator_name(request.user),
                action="benign_add",
                target=f"benign:{obj.pk}",
                detail={"algorithm": obj.algorithm, "label": obj.label},
            )

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            audit_record(
                actor_kind=OPERATOR,
                actor=operator_name(request.user),
                action="benign_remove",
                target=f"benign:{obj.pk}",
                detail={"algorithm": obj.algorithm, "label": obj.label},
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_kind", "actor", "action", "target", "reason"]
    list_filter = ["actor_kind", "action", "at"]
    search_fields = ["actor", "target", "reason"]
    date_hierarchy = "at"
    fields = ["at", "actor_kind", "actor", "action", "target", "detail", "reason"]
    readonly_fields = fields  # type: ignore[assignment]  # flat names; stubs type `fields` as groups

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # append-only
