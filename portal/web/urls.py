"""URLs of the victim- and charity-facing pages."""

from django.urls import path

from portal.web import caseworkers, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("language/", views.language, name="language"),
    path("exit/", views.quick_exit, name="quick_exit"),
    path("platforms/", views.platforms, name="platforms"),
    path("submit/", views.submit, name="submit"),
    path("submit/hashes/", views.submit_hashes, name="submit_hashes"),
    path("submit/on-server/", views.upload, name="upload"),
    path("submit/on-server/done/", views.created, name="created"),
    path("submit/hash-one/", views.hash_one, name="hash_one"),
    path("case/", views.status_login, name="status_login"),
    path("case/status/", views.status, name="status"),
    path("case/add/", views.status_add, name="status_add"),
    path("case/add/hashes/", views.status_hashes, name="status_hashes"),
    path("case/add/on-server/", views.upload, {"add": True}, name="status_upload"),
    path("case/add/hash-one/", views.hash_one, {"add": True}, name="status_hash_one"),
    path("case/images/<uuid:item_id>/withdraw/", views.item_withdraw, name="item_withdraw"),
    path("case/withdraw/", views.case_withdraw, name="case_withdraw"),
    path("case/renew/", views.case_renew, name="case_renew"),
    path("case/sign-out/", views.status_logout, name="status_logout"),
    path("case/organisation/unlink/", views.case_unlink, name="case_unlink"),
    path("case/recover/", views.recover, name="recover"),
    path("case/new-pin/", views.created, {"reset": True}, name="recovered"),
    path("caseworkers/sign-in/", caseworkers.OrgLoginView.as_view(), name="org_login"),
    path("caseworkers/sign-out/", caseworkers.org_logout, name="org_logout"),
    path("caseworkers/", caseworkers.org_cases, name="org_cases"),
    path("caseworkers/two-factor/", caseworkers.org_two_factor, name="org_two_factor"),
    path("caseworkers/recovery-codes/", caseworkers.org_recovery_codes, name="org_recovery_codes"),
    path("caseworkers/password-reset/", caseworkers.password_reset, name="org_password_reset"),
    path(
        "caseworkers/password-reset/sent/",
        caseworkers.password_reset_done,
        name="org_password_reset_done",
    ),
    path(
        "caseworkers/password-reset/<uidb64>/<token>/",
        caseworkers.password_reset_confirm,
        name="org_password_reset_confirm",
    ),
    path(
        "caseworkers/password-reset/done/",
        caseworkers.password_reset_complete,
        name="org_password_reset_complete",
    ),
    path("caseworkers/cases/link/", caseworkers.org_case_link, name="org_case_link"),
    path("caseworkers/cases/<str:number>/", caseworkers.org_case, name="org_case"),
    path("caseworkers/hand-off/", caseworkers.org_handoffs, name="org_handoffs"),
    path("caseworkers/staff/", caseworkers.org_staff, name="org_staff"),
    path("caseworkers/invitation/<str:token>/", caseworkers.org_invitation, name="org_invitation"),
    # A hand-off link a caseworker gives a victim: short, to read out or type.
    path("h/", caseworkers.handoff_code, name="handoff_code"),
    path("h/<str:token>/", caseworkers.handoff, name="handoff"),
]
