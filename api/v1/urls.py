"""URLs of the native platform API, version 1."""

from django.urls import path

from api.v1.platform import PlatformMeApi

app_name = "v1"

urlpatterns = [
    path("me", PlatformMeApi.as_view(), name="platform-me"),
]
