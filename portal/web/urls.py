"""URLs of the victim- and charity-facing pages."""

from django.urls import path

from portal.web import caseworkers, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("language/", views.language, name="language"),
    path("submit/", views.submit, name="submit"),
    path("submit/hashes/", views.submit_hashes, name="submit_hashes"),
    path("submit/on-server/", views.upload, name="upload"),
    path("case/", views.status_login, name="status_login"),
    path("case/status/", views.status, name="status"),
    path("case/add/", views.status_add, name="status_add"),
    path("case/add/hashes/", views.status_hashes, name="status_hashes"),
    path("case/add/on-server/", views.upload, {"add": True}, name="status_upload"),
    path("case/images/<uuid:item_id>/withdraw/", views.item_withdraw, name="item_withdraw"),
    path("case/withdraw/", views.case_withdraw, name="case_withdraw"),
    path("case/sign-out/", views.status_logout, name="status_logout"),
    path("case/recover/", views.recover, name="recover"),
    path("caseworkers/sign-in/", caseworkers.OrgLoginView.as_view(), name="org_login"),
    path("caseworkers/sign-out/", caseworkers.org_logout, name="org_logout"),
    path("caseworkers/", caseworkers.org_cases, name="org_cases"),
]
