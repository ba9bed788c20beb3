"""The platform API (Django REST framework): native /api/v1/ and StopNCII-compatible."""
