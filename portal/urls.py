"""Root URLs: the victim/charity pages, the platform API and the operators' admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("api.urls")),
    path("operators/", admin.site.urls),
    path("", include("portal.web.urls")),
]
