"""Sealing short secrets we must hold for a while: encrypted and authenticated at rest.

A value sealed here can be opened only with the server's SECRET_KEY (or one of
SECRET_KEY_FALLBACKS, so a key rotation doesn't lose them), never from a dump of
the database or session store alone. Each use names its `purpose`, from which
its own key is derived (HKDF), so a value sealed for one use can't be opened as
another. Fernet tokens carry their time, so `unseal` can refuse old ones.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _cipher(key: str, purpose: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"takeback.{purpose}".encode()
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _ciphers(purpose: str) -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_cipher(key, purpose) for key in keys])


def seal(text: str, *, purpose: str) -> str:
    """`text` encrypted and authenticated for `purpose`."""
    return _ciphers(purpose).encrypt(text.encode()).decode()


def unseal(token: str, *, purpose: str, max_age: int | None = None) -> str | None:
    """The text back, or None if the token is not ours, not for `purpose` or too old."""
    try:
        return _ciphers(purpose).decrypt(token.encode(), ttl=max_age).decode()
    except (InvalidToken, ValueError, TypeError):
        return None
