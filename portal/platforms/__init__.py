"""Platforms: participating services, their API keys and what they report back."""
