"""Forms of the staff pages: second factor, invitations, follow-up (validation only)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.charities.models import Role
from portal.web.forms import CaseLoginForm

_CODE_ATTRS = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "spellcheck": "false",
    "autocapitalize": "off",
}


class SecondFactorForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=16,
        widget=forms.TextInput(attrs=_CODE_ATTRS),
    )


class TotpSetupForm(forms.Form):
    token = forms.CharField(
        label=_("The 6-digit code your app shows now"),
        max_length=10,
        widget=forms.TextInput(attrs=_CODE_ATTRS),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Their work e-mail address"))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[(Role.CASEWORKER, _("Caseworker")), (Role.ADMIN, _("Organisation admin"))],
        widget=forms.RadioSelect,
        initial=Role.CASEWORKER,
    )


class AcceptInvitationForm(forms.Form):
    username = forms.CharField(
        label=_("Choose a username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "off"}),
    )
    password = forms.CharField(
        label=_("Choose a password"),
        help_text=_("At least 12 characters; a few unrelated words work well."),
        min_length=12,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class CaseSearchForm(forms.Form):
    q = forms.CharField(label=_("Case number contains"), required=False, max_length=40)
    show = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("All cases")),
            ("active", _("Active")),
            ("withdrawn", _("Withdrawn")),
            ("expired", _("Expired")),
            ("follow_up", _("Follow-up due")),
        ],
    )


class CaseNoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        help_text=_("No names, phone numbers or other details that identify the person."),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    follow_up_on = forms.DateField(
        label=_("Follow up on (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class CaseRequestForm(forms.Form):
    action = forms.ChoiceField(choices=[("renew", "renew"), ("withdraw", "withdraw")])
    reason = forms.CharField(
        label=_("Reason, as the person asked"),
        help_text=_("No names or contact details."),
        max_length=500,
    )


class CaseLinkForm(forms.Form):
    """A case made side by side without choosing the organisation: number and PIN link it."""

    number = CaseLoginForm.base_fields["number"]
    pin = CaseLoginForm.base_fields["pin"]


class HandoffCodeForm(forms.Form):
    code = forms.CharField(
        label=_("The code your support worker gave you"),
        help_text=_("For example 7KQ2M-X9HDA"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )


class HandoffConsentForm(forms.Form):
    consent = forms.BooleanField(
        label=_(
            "Yes, link my new case to this organisation, so they can see its case number "
            "and whether platforms have received and blocked it. They never see my images "
            "or my PIN."
        ),
        required=False,
    )
