"""Native platform API, version 1."""
