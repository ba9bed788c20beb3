"""Root URLs: the victim/charity pages, the platform API and the operators' admin."""

from django.contrib import admin
from django.urls import include, path

from portal.charities.admin import StaffAdminSite

# Every operator signs in with a second factor: the default admin site (where all
# apps registered their models) takes the class that checks it, as django-otp
# documents for OTPAdminSite.
admin.site.__class__ = StaffAdminSite

urlpatterns = [
    path("api/", include("api.urls")),
    path("operators/", admin.site.urls),
    path("", include("portal.web.urls")),
]
