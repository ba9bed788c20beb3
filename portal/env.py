"""The one place that reads the process environment for settings (12-factor).

Settings modules and anything else that needs configuration import `env` and
`BASE_DIR` from here, so every variable has one documented reader.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Reading a .env file is opt-in, so a stray file never changes a deployment.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))
