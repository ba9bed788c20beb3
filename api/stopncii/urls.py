"""URLs of the StopNCII-compatible exchange."""

app_name = "stopncii"

urlpatterns: list = []
