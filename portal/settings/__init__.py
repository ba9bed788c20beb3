"""Settings package: `base` holds nearly everything; `production` and `test` adjust it.

Environments differ through environment variables (see README "Configuration"),
not through code.
"""
