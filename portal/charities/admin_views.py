"""Operators' pages inside the admin: onboard a platform (keys shown once, scopes,
rotation, revocation, webhook endpoint; decoys are made by platform_create), onboard an
organisation with its first org admin, and statistics with charts.

Interfaces only: forms validate, portal/platforms/services.py and
portal/charities/services.py do the writes. Secrets appear in the response that made
them and nowhere else.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify

from portal.cases.models import Organisation
from portal.charities import charts, services, statistics
from portal.exceptions import ApplicationError
from portal.platforms import services as platform_services
from portal.platforms import webhooks
from portal.platforms.models import ApiKey, Platform

SCOPE_CHOICES = [(s, s) for s in platform_services.DEFAULT_API_SCOPES]


class PlatformOnboardForm(forms.Form):
    name = forms.CharField(max_length=200)
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        initial=platform_services.DEFAULT_API_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the native API key may do.",
    )
    webhook_url = forms.URLField(
        assume_scheme="https",
        required=False,
        help_text="Optional https endpoint to push feed changes to.",
    )


class OrganisationOnboardForm(forms.Form):
    name = forms.CharField(max_length=200)
    admin_email = forms.EmailField(
        label="First org admin's e-mail", help_text="They get a one-time invitation link."
    )


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def platform_onboard(request: HttpRequest) -> HttpResponse:
    form = PlatformOnboardForm(request.POST or None)
    created = webhook = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                created = platform_services.platform_create(name=data["name"])
                api_key = created.api_key
                if set(data["scopes"]) != set(platform_services.DEFAULT_API_SCOPES):
                    platform_services.api_key_revoke(api_key=api_key.api_key)
                    api_key = platform_services.api_key_issue(
                        platform=created.platform, scopes=data["scopes"], label="initial"
                    )
                if data["webhook_url"]:
                    webhook = webhooks.webhook_create(
                        platform=created.platform, url=data["webhook_url"]
                    )
        except ApplicationError as error:
            form.add_error(None, str(error.message))
            created = None
        else:
            return TemplateResponse(
                request,
                "charities/admin_platform_created.html",
                _context(
                    request,
                    f"{created.platform.name} is onboarded",
                    platform=created.platform,
                    keys=[
                        api_key,
                        created.stopncii_subscription_key,
                        created.stopncii_function_key,
                    ],
                    webhook=webhook,
                    decoys=created.platform.decoys.count(),
                ),
            )
    return TemplateResponse(
        request,
        "charities/admin_platform_onboard.html",
        _context(request, "Onboard a platform", form=form),
    )


def platform_keys(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = Platform.objects.filter(pk=platform_id).first()
    if platform is None:
        raise Http404
    issued = None
    if request.method == "POST":
        key = ApiKey.objects.filter(platform=platform, pk=request.POST.get("key") or 0).first()
        if key is None:
            raise Http404
        with transaction.atomic():
            if "rotate" in request.POST:
                # The new key first, then the old one revoked: the platform swaps at once.
                issued = platform_services.api_key_issue(
                    platform=platform, kind=key.kind, scopes=key.scopes, label="rotated"
                )
            platform_services.api_key_revoke(api_key=key)
        if issued is None:
            messages.success(request, f"Key {key.prefix} is revoked.")
            return redirect(reverse("admin:charities_platform_keys", args=[platform.pk]))
    return TemplateResponse(
        request,
        "charities/admin_platform_keys.html",
        _context(
            request,
            f"Keys of {platform.name}",
            platform=platform,
            keys=platform.api_keys.order_by("-created_at"),
            issued=issued,
        ),
    )


def organisation_onboard(request: HttpRequest) -> HttpResponse:
    form = OrganisationOnboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"].strip()
        slug = slugify(name)[:60] or "organisation"
        if Organisation.objects.filter(name__iexact=name).exists() or (
            Organisation.objects.filter(slug=slug).exists()
        ):
            form.add_error("name", "An organisation with this name exists.")
        else:
            with transaction.atomic():
                organisation = Organisation.objects.create(name=name, slug=slug)
                invited = services.invitation_create(
                    organisation=organisation,
                    email=form.cleaned_data["admin_email"],
                    role="admin",
                    created_by=None,  # an operator: the admin itself is the check
                    base_url=request.build_absolute_uri("/"),
                )
            return TemplateResponse(
                request,
                "charities/admin_organisation_created.html",
                _context(
                    request,
                    f"{organisation.name} is onboarded",
                    organisation=organisation,
                    invited=invited,
                ),
            )
    return TemplateResponse(
        request,
        "charities/admin_organisation_onboard.html",
        _context(request, "Onboard an organisation", form=form),
    )


def statistics_page(request: HttpRequest) -> HttpResponse:
    stats = statistics.statistics()
    sections = [
        ("New cases per day", stats.cases),
        ("Hashes per day, by algorithm", stats.hashes_by_algorithm),
        ("Hashes per day, by media kind", stats.hashes_by_media_kind),
        ("Matches reported by platforms per day, by outcome", stats.feedback),
        ("Hashes withdrawn per day", stats.withdrawals),
        ("Hashes quarantined per day", stats.quarantines),
    ]
    charts_ = [
        {
            "title": title,
            "svg": charts.stacked_bars_svg(title=title, days=stats.days, series=series),
            "legend": [
                {"name": s.name, "swatch": charts.swatch_svg(i)} for i, s in enumerate(series)
            ],
            "rows": [
                {"day": day, "values": [s.values[i] for s in series]}
                for i, day in enumerate(stats.days)
            ],
            "series": series,
        }
        for title, series in sections
    ]
    lag_title = "Feed lag per platform (positions behind the head, largest each day)"
    lag_chart = {
        "title": lag_title,
        "svg": charts.lines_svg(title=lag_title, days=stats.days, series=stats.lag_history),
        "legend": [
            {"name": s.name, "swatch": charts.swatch_svg(i)}
            for i, s in enumerate(stats.lag_history)
        ],
        "series": stats.lag_history,
    }
    return TemplateResponse(
        request,
        "charities/admin_statistics.html",
        _context(
            request,
            "Statistics",
            charts=charts_,
            lag_chart=lag_chart,
            stats=stats,
            small=statistics.SMALL_COUNT,
        ),
    )
