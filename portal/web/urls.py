"""URLs of the victim- and charity-facing pages."""

from django.urls import path

from portal.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
]
