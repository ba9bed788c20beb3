"""Selectors on cases: the status page's file list and the caseworkers' lists."""

import pytest
from django.contrib.auth import get_user_model

from portal.cases import selectors, services
from portal.cases.models import Organisation
from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db


def test_case_items_group_hashes_by_file_and_show_withdrawals():
    created = case_with_items(3)
    items = selectors.case_items(case=created.case)
    assert len(items) == 3
    assert all(item.is_active for item in items)
    assert {tuple(item.algorithms) for item in items} == {("md5", "pdq", "phash", "sha256")}
    first = items[0]
    sha256 = created.case.hashes.get(item_id=first.item_id, algorithm="sha256").value
    assert first.label == sha256[:8]
    services.item_withdraw(case=created.case, item_id=first.item_id)
    after = {i.item_id: i.is_active for i in selectors.case_items(case=created.case)}
    assert after[first.item_id] is False and sum(after.values()) == 2


def test_caseworkers_see_only_their_active_organisations_and_cases():
    user = get_user_model().objects.create_user("worker")
    # A password alone makes nobody a caseworker: only a session past the second factor.
    user.is_verified = lambda: False
    mine = Organisation.objects.create(name="Mine", slug="mine")
    closed = Organisation.objects.create(name="Closed", slug="closed", is_active=False)
    other = Organisation.objects.create(name="Other", slug="other")
    mine.members.add(user)
    closed.members.add(user)
    helped = case_with_items(1, organisation=mine).case
    case_with_items(1, organisation=other)
    case_with_items(1)
    assert list(selectors.organisations_of_user(user=user)) == []
    user.is_verified = lambda: True
    assert list(selectors.organisations_of_user(user=user)) == [mine]
    assert list(selectors.organisation_cases(organisation=mine)) == [helped]
