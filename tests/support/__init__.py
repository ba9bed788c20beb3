"""Helpers shared by the tests: factories, platform clients, contracts, services."""
