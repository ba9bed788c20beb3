"""The victim- and charity-facing web pages."""
