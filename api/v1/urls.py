"""URLs of the native platform API, version 1."""

app_name = "v1"

urlpatterns: list = []
