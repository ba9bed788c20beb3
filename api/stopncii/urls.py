"""URLs of the StopNCII-compatible exchange (paths as on api.stopncii.org/v1)."""

from django.urls import path

from api.stopncii import views

app_name = "stopncii"

urlpatterns = [
    path("FetchHashes", views.FetchHashesApi.as_view(), name="fetch-hashes"),
    path("SubmitFeedback", views.SubmitFeedbackApi.as_view(), name="submit-feedback"),
    path("SubmitHashes", views.SubmitHashesApi.as_view(), name="submit-hashes"),
]
