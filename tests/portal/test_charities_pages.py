"""Staff pages of a support organisation: roles, invitations, hand-off links, the dashboard.

Who may do what, through the pages with Django's test client: anonymous, a
victim signed in to their case with a PIN, a caseworker of org A against org B,
an org admin, an operator. The dashboard's query count does not grow with the
number of cases, and it pages instead of stopping at 200.
"""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.cases.models import Case, Organisation
from portal.charities import services
from portal.charities.models import HandoffLink, Invitation, StaffRole
from portal.platforms.models import HashFeedback
from portal.platforms.services import platform_create
from tests.support.factories import SubmittedItemFactory, case_with_items
from tests.support.staff import staff_user, verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def client_factory():
    """New browsers (the victim's phone is not the caseworker's computer)."""
    return Client


@pytest.fixture
def org_a():
    return Organisation.objects.create(name="Helpline A", slug="a")


@pytest.fixture
def org_b():
    return Organisation.objects.create(name="Helpline B", slug="b")


@pytest.fixture
def caseworker_a(client, org_a):
    return verified_login(client, staff_user("worker-a", organisation=org_a))


@pytest.fixture
def admin_a(client, org_a):
    return verified_login(client, staff_user("admin-a", organisation=org_a, role="admin"))


def _payload(count: int = 1) -> str:
    items = [
        {"media_kind": i.media_kind, "hashes": i.hashes, "pdq_quality": i.pdq_quality}
        for i in SubmittedItemFactory.build_batch(count)
    ]
    return json.dumps({"items": items})


# Roles and permissions -------------------------------------------------------------


def test_a_caseworker_of_one_organisation_never_sees_another_organisations_case(
    caseworker_a, org_a, org_b
):
    mine = case_with_items(1, organisation=org_a).case
    theirs = case_with_items(1, organisation=org_b).case
    listing = caseworker_a.get(reverse("web:org_cases")).content.decode()
    assert mine.number in listing and theirs.number not in listing
    assert caseworker_a.get(reverse("web:org_case", args=[mine.number])).status_code == 200
    assert caseworker_a.get(reverse("web:org_case", args=[theirs.number])).status_code == 404
    # Naming the other organisation in ?org= does not help: it is not one of theirs.
    other = caseworker_a.get(reverse("web:org_case", args=[theirs.number]) + "?org=b")
    assert other.status_code == 404
    assert caseworker_a.get(reverse("web:org_cases") + "?org=b").status_code == 404


def test_a_victim_signed_in_with_their_pin_opens_no_staff_page(client, org_a):
    created = case_with_items(1, organisation=org_a)
    client.post(reverse("web:status_login"), {"number": created.case.number, "pin": created.pin})
    assert client.get(reverse("web:status")).status_code == 200
    for name in ("web:org_cases", "web:org_handoffs", "web:org_staff"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("web:org_login"))


def test_only_an_org_admin_manages_staff(caseworker_a, org_a):
    assert caseworker_a.get(reverse("web:org_staff")).status_code == 404
    response = caseworker_a.post(
        reverse("web:org_staff"), {"email": "x@example.org", "role": "caseworker"}
    )
    assert response.status_code == 404 and not Invitation.objects.exists()


def test_an_operator_who_is_no_member_sees_no_organisations_cases(client, org_a):
    case = case_with_items(1, organisation=org_a).case
    verified_login(client, staff_user("op", superuser=True))
    page = client.get(reverse("web:org_cases")).content.decode()
    assert case.number not in page and "not a member of any organisation" in page
    assert client.get(reverse("web:org_case", args=[case.number])).status_code == 404


def test_org_admin_removes_their_own_staff_but_not_another_organisations(admin_a, org_a, org_b):
    worker = staff_user("worker", organisation=org_a)
    elsewhere = staff_user("elsewhere", organisation=org_b)
    page = admin_a.get(reverse("web:org_staff")).content.decode()
    assert "worker" in page and "elsewhere" not in page
    admin_a.post(reverse("web:org_staff"), {"remove": worker.pk})
    assert not org_a.members.filter(pk=worker.pk).exists()
    assert admin_a.post(reverse("web:org_staff"), {"remove": elsewhere.pk}).status_code == 404
    assert org_b.members.filter(pk=elsewhere.pk).exists()


def test_the_last_admin_cannot_remove_themselves(admin_a, org_a):
    me = get_user_model().objects.get(username="admin-a")
    admin_a.post(reverse("web:org_staff"), {"remove": me.pk})
    assert org_a.members.filter(pk=me.pk).exists()


def test_a_removed_caseworker_loses_the_organisations_cases_at_once(client, org_a):
    worker = staff_user("worker", organisation=org_a)
    admin = staff_user("boss", organisation=org_a, role="admin")
    case = case_with_items(1, organisation=org_a).case
    verified_login(client, worker)
    assert case.number in client.get(reverse("web:org_cases")).content.decode()
    services.membership_remove(organisation=org_a, user=worker, by=admin)
    assert client.get(reverse("web:org_case", args=[case.number])).status_code == 404


# Invitations ---------------------------------------------------------------------


def test_invitation_link_creates_an_account_once_and_then_asks_for_a_second_factor(
    admin_a, org_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # mailed once committed
        admin_a.post(reverse("web:org_staff"), {"email": "new@example.org", "role": "caseworker"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.org"]
    url = re.search(r"http://testserver(/caseworkers/invitation/\S+/)", mail.outbox[0].body)
    assert url
    path = url.group(1)
    invitation = Invitation.objects.get()
    assert path.split("/")[-2] not in invitation.token_digest  # only a digest is stored

    admin_a.post(reverse("web:org_logout"))
    assert admin_a.get(path).status_code == 200
    done = admin_a.post(path, {"username": "newbie", "password": "a brand new passphrase"})
    assert done.url == reverse("web:org_two_factor")
    user = get_user_model().objects.get(username="newbie")
    assert org_a.members.filter(pk=user.pk).exists()
    assert StaffRole.objects.get(user=user).role == "caseworker"
    assert "_auth_user_id" not in admin_a.session  # not signed in until the second factor
    # The link worked once.
    again = admin_a.post(path, {"username": "second", "password": "a brand new passphrase"})
    assert again.status_code == 404
    assert not get_user_model().objects.filter(username="second").exists()


def test_an_expired_or_revoked_invitation_opens_nothing(org_a, client):
    admin = staff_user("boss", organisation=org_a, role="admin")
    expired = services.invitation_create(
        organisation=org_a,
        email="a@example.org",
        role="admin",
        created_by=admin,
        base_url="http://testserver",
    )
    Invitation.objects.filter(pk=expired.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = services.invitation_create(
        organisation=org_a,
        email="b@example.org",
        role="caseworker",
        created_by=admin,
        base_url="http://testserver",
    )
    services.invitation_revoke(invitation=revoked.invitation)
    for created in (expired, revoked):
        path = created.url.removeprefix("http://testserver")
        assert client.get(path).status_code == 404
        response = client.post(path, {"username": "x", "password": "a brand new passphrase"})
        assert response.status_code == 404
    assert not get_user_model().objects.filter(username="x").exists()


def test_a_caseworker_cannot_invite_through_the_service(org_a):
    worker = staff_user("worker", organisation=org_a)
    with pytest.raises(Exception, match="Only an organisation admin"):
        services.invitation_create(
            organisation=org_a,
            email="a@example.org",
            role="admin",
            created_by=worker,
            base_url="http://testserver",
        )


# Hand-off links ------------------------------------------------------------------


def _handoff_path(page_html: str) -> str:
    match = re.search(r'id="handoff-url" href="http://testserver(/h/[^"]+/)"', page_html)
    assert match, page_html
    return match.group(1)


def test_handoff_link_links_the_victims_case_with_consent_and_works_once(
    caseworker_a, org_a, client_factory
):
    page = caseworker_a.post(reverse("web:org_handoffs"), {"org": "a"}).content.decode()
    assert 'class="qr"' in page  # the QR code
    path = _handoff_path(page)
    link = HandoffLink.objects.get()
    assert link.used_at is None and link.case is None

    victim = client_factory()
    landing = victim.get(path)
    assert landing.status_code == 200 and "Helpline A" in landing.content.decode()
    assert victim.post(path, {"consent": "on"}).url == reverse("web:start")
    victim.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    created = victim.post(
        reverse("web:submit_hashes"), _payload(), content_type="application/json"
    ).json()
    case = Case.objects.get(number=created["case_number"])
    assert case.organisation == org_a
    link.refresh_from_db()
    assert link.used_at is not None and link.case == case
    # The caseworker sees when it was used, and the case.
    listing = caseworker_a.get(reverse("web:org_handoffs")).content.decode()
    assert "Used" in listing and case.number in listing
    # Used once: the same link now opens nothing.
    assert client_factory().get(path).status_code == 404
    # The link's page and its token carry nothing of the victim: a case number appears
    # only once the victim used it, and only to this organisation.
    assert "pin" not in json.dumps(list(HandoffLink.objects.values()), default=str).lower()


def test_without_consent_the_handoff_case_is_not_linked(caseworker_a, client_factory):
    path = _handoff_path(caseworker_a.post(reverse("web:org_handoffs")).content.decode())
    victim = client_factory()
    victim.post(path, {})
    victim.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    created = victim.post(
        reverse("web:submit_hashes"), _payload(), content_type="application/json"
    ).json()
    assert Case.objects.get(number=created["case_number"]).organisation is None
    assert HandoffLink.objects.get().used_at is None


def test_expired_and_revoked_handoff_links_open_nothing(caseworker_a, client_factory):
    expired = _handoff_path(caseworker_a.post(reverse("web:org_handoffs")).content.decode())
    HandoffLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_factory().get(expired).status_code == 404
    revoked = _handoff_path(caseworker_a.post(reverse("web:org_handoffs")).content.decode())
    link = HandoffLink.objects.order_by("-pk").first()
    caseworker_a.post(reverse("web:org_handoffs"), {"revoke": link.pk})
    assert client_factory().get(revoked).status_code == 404


def test_a_link_revoked_after_the_victim_consented_leaves_the_case_unlinked(
    caseworker_a, client_factory
):
    path = _handoff_path(caseworker_a.post(reverse("web:org_handoffs")).content.decode())
    victim = client_factory()
    victim.post(path, {"consent": "on"})
    services.handoff_revoke(link=HandoffLink.objects.get())
    victim.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    created = victim.post(
        reverse("web:submit_hashes"), _payload(), content_type="application/json"
    ).json()
    assert Case.objects.get(number=created["case_number"]).organisation is None


def test_handoff_links_expire_after_72_hours_by_default(org_a):
    created = services.handoff_create(organisation=org_a, created_by=None)
    lifetime = created.link.expires_at - created.link.created_at
    assert timedelta(hours=71, minutes=59) < lifetime <= timedelta(hours=72)
    assert services.handoff_find(token=created.token) == created.link
    assert services.handoff_find(token=created.token + "x") is None


# A forgotten organisation select -------------------------------------------------


def test_a_case_made_without_the_organisation_is_linked_with_its_number_and_pin(
    caseworker_a, org_a, org_b
):
    created = case_with_items(1)
    wrong = caseworker_a.post(
        reverse("web:org_case_link"), {"number": created.case.number, "pin": "00000000"}
    )
    assert b"do not match" in wrong.content
    done = caseworker_a.post(
        reverse("web:org_case_link"), {"number": created.case.number, "pin": created.pin}
    )
    assert done.status_code == 302
    created.case.refresh_from_db()
    assert created.case.organisation == org_a
    # Another organisation's case is not taken over, even with its PIN.
    theirs = case_with_items(1, organisation=org_b)
    caseworker_a.post(
        reverse("web:org_case_link"), {"number": theirs.case.number, "pin": theirs.pin}
    )
    theirs.case.refresh_from_db()
    assert theirs.case.organisation == org_b


# Dashboard -----------------------------------------------------------------------


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("web:org_cases")).status_code == 200
    return len(queries)


def test_dashboard_queries_do_not_grow_with_the_number_of_cases(caseworker_a, org_a):
    created = platform_create(name="Counted")
    case_with_items(2, organisation=org_a)
    few = _dashboard_queries(caseworker_a)
    for _ in range(12):
        done = case_with_items(2, organisation=org_a)
        HashFeedback.objects.create(
            platform=created.platform,
            submitted_hash=done.case.hashes.first(),
            outcome=HashFeedback.Outcome.BLOCKED,
        )
    many = _dashboard_queries(caseworker_a)
    assert many == few, (few, many)
    assert many <= 20


def test_dashboard_pages_past_200_cases(caseworker_a, org_a):
    numbers = [case_with_items(1, organisation=org_a).case.number for _ in range(3)]
    from portal.web import caseworkers

    caseworkers_per_page = caseworkers.CASES_PER_PAGE
    caseworkers.CASES_PER_PAGE = 2
    try:
        first = caseworker_a.get(reverse("web:org_cases")).content.decode()
        second = caseworker_a.get(reverse("web:org_cases") + "?page=2").content.decode()
    finally:
        caseworkers.CASES_PER_PAGE = caseworkers_per_page
    assert sum(n in first for n in numbers) == 2 and sum(n in second for n in numbers) == 1
    assert "Page 1 of 2" in first


def test_dashboard_search_and_filter(caseworker_a, org_a):
    one = case_with_items(1, organisation=org_a).case
    two = case_with_items(1, organisation=org_a).case
    from portal.cases.services import case_withdraw

    case_withdraw(case=two)
    part = one.number.replace("-", "")[2:9].lower()
    found = caseworker_a.get(reverse("web:org_cases"), {"q": part}).content.decode()
    assert one.number in found and two.number not in found
    withdrawn = caseworker_a.get(reverse("web:org_cases"), {"show": "withdrawn"}).content.decode()
    assert two.number in withdrawn and one.number not in withdrawn


def test_follow_up_note_renew_and_withdraw_on_request_with_a_reason(caseworker_a, org_a):
    case = case_with_items(1, organisation=org_a).case
    url = reverse("web:org_case", args=[case.number])
    due = timezone.localdate().isoformat()
    caseworker_a.post(url, {"note-text": "Called back", "note-follow_up_on": due})
    assert (
        case.number
        in caseworker_a.get(reverse("web:org_cases"), {"show": "follow_up"}).content.decode()
    )
    refused = caseworker_a.post(url, {"req-action": "withdraw", "req-reason": ""})
    assert refused.status_code == 200
    case.refresh_from_db()
    assert case.status == "active"
    before = case.expires_at
    caseworker_a.post(url, {"req-action": "renew", "req-reason": "Asked by phone"})
    case.refresh_from_db()
    assert case.expires_at > before
    caseworker_a.post(url, {"req-action": "withdraw", "req-reason": "Asked by phone"})
    case.refresh_from_db()
    assert case.status == "withdrawn"
    page = caseworker_a.get(url).content.decode()
    assert "Withdrawn at the victim" in page and "Asked by phone" in page
    assert "<img" not in page and "pin" not in page.lower().replace("pinned", "")
    summary = caseworker_a.get(url + "?print=1").content.decode()
    assert case.number in summary


def test_platforms_without_a_working_key_do_not_count_toward_totals(caseworker_a, org_a):
    from portal.charities.selectors import platforms_counted
    from portal.platforms.models import ApiKey, Platform

    platform_create(name="Live")
    Platform.objects.create(name="No keys")
    revoked = platform_create(name="Revoked")
    ApiKey.objects.filter(platform=revoked.platform).update(revoked_at=timezone.now())
    assert [p.name for p in platforms_counted()] == ["Live"]


def test_submitting_side_by_side_defaults_to_the_only_organisation(caseworker_a, org_a):
    caseworker_a.post(
        reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"}
    )
    page = caseworker_a.get(reverse("web:submit")).content.decode()
    assert re.search(r'<option value="a"\s+selected>Helpline A</option>', page), page


def test_a_member_of_two_organisations_chooses_one(caseworker_a, org_a, org_b):
    services.membership_add(
        organisation=org_b, user=get_user_model().objects.get(username="worker-a")
    )
    caseworker_a.post(
        reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"}
    )
    page = caseworker_a.get(reverse("web:submit")).content.decode()
    assert "selected>" not in page.split('id="organisation"')[1].split("</select>")[0]


def test_the_victim_unlinking_their_case_hides_it_and_its_notes_from_the_organisation(
    caseworker_a, org_a
):
    case = case_with_items(1, organisation=org_a).case
    url = reverse("web:org_case", args=[case.number])
    caseworker_a.post(url, {"note-text": "Called back"})
    assert services.case_unlink_by_victim(case=case) == org_a
    assert caseworker_a.get(url).status_code == 404
    assert case.number not in caseworker_a.get(reverse("web:org_cases")).content.decode()
    assert not case.notes.exists()
    assert services.case_unlink_by_victim(case=case) is None


def test_a_handoff_code_read_out_over_the_phone_works_like_the_link(
    caseworker_a, org_a, client_factory
):
    page = caseworker_a.post(reverse("web:org_handoffs")).content.decode()
    code = re.search(r'id="handoff-code" class="handoff-url">([0-9A-Z-]+)</code>', page).group(1)
    victim = client_factory()
    typed = code.lower().replace("-", " ")  # as a person might type it
    landing = victim.post(reverse("web:handoff_code"), {"code": typed})
    assert landing.status_code == 200 and "Helpline A" in landing.content.decode()
    done = victim.post(
        reverse("web:handoff_code"), {"code": typed, "step": "consent", "consent": "on"}
    )
    assert done.url == reverse("web:start")
    victim.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    created = victim.post(
        reverse("web:submit_hashes"), _payload(), content_type="application/json"
    ).json()
    assert Case.objects.get(number=created["case_number"]).organisation == org_a
    # Used once: the code opens nothing now.
    again = client_factory().post(reverse("web:handoff_code"), {"code": code})
    assert b"does not work" in again.content


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT=3)
def test_guessing_handoff_codes_is_throttled_per_client(caseworker_a, client_factory):
    page = caseworker_a.post(reverse("web:org_handoffs")).content.decode()
    code = re.search(r'id="handoff-code" class="handoff-url">([0-9A-Z-]+)</code>', page).group(1)
    guesser = client_factory()
    for n in range(3):
        guesser.post(reverse("web:handoff_code"), {"code": f"AAAAA-AAAA{n}"})
    refused = guesser.post(reverse("web:handoff_code"), {"code": code})
    assert b"For your safety" in refused.content
    assert HandoffLink.objects.get().used_at is None


def test_an_org_admin_changes_roles_but_the_last_admin_stays(admin_a, org_a):
    worker = staff_user("worker", organisation=org_a)
    me = get_user_model().objects.get(username="admin-a")
    admin_a.post(reverse("web:org_staff"), {"member": me.pk, "make_role": "caseworker"})
    assert services.staff_role(user=me, organisation=org_a) == "admin"
    admin_a.post(reverse("web:org_staff"), {"member": worker.pk, "make_role": "admin"})
    assert services.staff_role(user=worker, organisation=org_a) == "admin"
    admin_a.post(reverse("web:org_staff"), {"member": me.pk, "make_role": "caseworker"})
    assert services.staff_role(user=me, organisation=org_a) == "caseworker"
    # Now a caseworker: the staff page is closed to them.
    assert admin_a.get(reverse("web:org_staff")).status_code == 404


def test_a_signed_in_staff_member_joins_another_organisation_with_their_account(
    caseworker_a, org_a, org_b
):
    boss_b = staff_user("boss-b", organisation=org_b, role="admin")
    me = get_user_model().objects.get(username="worker-a")
    for_me = services.invitation_create(
        organisation=org_b,
        email=me.email.upper(),
        role="caseworker",
        created_by=boss_b,
        base_url="http://testserver",
    )
    for_someone_else = services.invitation_create(
        organisation=org_b,
        email="other@example.org",
        role="admin",
        created_by=boss_b,
        base_url="http://testserver",
    )
    refused = caseworker_a.post(for_someone_else.url.removeprefix("http://testserver"))
    assert b"for another e-mail address" in refused.content
    assert not org_b.members.filter(pk=me.pk).exists()
    path = for_me.url.removeprefix("http://testserver")
    assert b"Join Helpline B" in caseworker_a.get(path).content
    done = caseworker_a.post(path)
    assert done.status_code == 302 and services.staff_role(user=me, organisation=org_b) == (
        "caseworker"
    )
    assert caseworker_a.get(path).status_code == 404  # once


# Every staff page, for every kind of visitor ------------------------------------

VIEWS = [
    ("web:org_cases", False),
    ("web:org_case", True),
    ("web:org_handoffs", False),
    ("web:org_case_link", False),
    ("web:org_staff", False),
]
# What each visitor gets (GET), by page: 200 opens; 302 back to sign-in; 404 nothing there.
EXPECTED = {
    "anonymous": {"*": 302},
    "victim_with_pin": {"*": 302},
    "caseworker_of_b": {
        "web:org_cases": 200,
        "web:org_case": 404,
        "web:org_handoffs": 200,
        "web:org_case_link": 200,
        "web:org_staff": 404,
    },
    "caseworker_of_a": {
        "web:org_cases": 200,
        "web:org_case": 200,
        "web:org_handoffs": 200,
        "web:org_case_link": 200,
        "web:org_staff": 404,
    },
    "org_admin_of_a": {"*": 200},
    "operator": {
        "web:org_cases": 200,
        "web:org_case": 404,
        "web:org_handoffs": 404,
        "web:org_case_link": 404,
        "web:org_staff": 404,
    },
}


@pytest.mark.parametrize("visitor", list(EXPECTED))
def test_who_opens_which_staff_page(client, org_a, org_b, visitor):
    created = case_with_items(1, organisation=org_a)
    if visitor == "victim_with_pin":
        client.post(
            reverse("web:status_login"), {"number": created.case.number, "pin": created.pin}
        )
    elif visitor == "caseworker_of_b":
        verified_login(client, staff_user("b", organisation=org_b))
    elif visitor == "caseworker_of_a":
        verified_login(client, staff_user("a", organisation=org_a))
    elif visitor == "org_admin_of_a":
        verified_login(client, staff_user("boss", organisation=org_a, role="admin"))
    elif visitor == "operator":
        verified_login(client, staff_user("op", superuser=True))
    for name, takes_case in VIEWS:
        url = reverse(name, args=[created.case.number] if takes_case else [])
        expected = EXPECTED[visitor].get(name, EXPECTED[visitor].get("*"))
        response = client.get(url)
        assert response.status_code == expected, (visitor, name, response.status_code)
        if expected == 302:
            assert response.url.startswith(reverse("web:org_login"))
        if expected == 200:
            assert created.pin not in response.content.decode()


def test_the_case_page_queries_do_not_grow_with_files_or_notes(caseworker_a, org_a):
    from portal.cases.services import item_withdraw

    def queries(case) -> int:
        with CaptureQueriesContext(connection) as captured:
            page = caseworker_a.get(reverse("web:org_case", args=[case.number]))
            assert page.status_code == 200
        return len(captured)

    small = case_with_items(1, organisation=org_a)
    big = case_with_items(12, organisation=org_a)
    for item_id in list(big.case.hashes.values_list("item_id", flat=True).distinct())[:6]:
        item_withdraw(case=big.case, item_id=item_id)
    for n in range(8):
        services.case_note_add(organisation=org_a, case=big.case, by=None, text=f"note {n}")
    assert queries(big.case) == queries(small.case)
