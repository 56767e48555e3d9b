"""Encryption of personal values at rest (AES-GCM, key id prefix) and keyed hashes for exact search.

Ciphertext format: "<keyid>:<base64(nonce12 + ciphertext+tag)>". The first key in
WANGGE_ENCRYPTION_KEYS encrypts; every listed key decrypts, so keys can rotate without downtime.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyRing:
    def __init__(self, spec: list[str], hash_key: str) -> None:
        if not spec:
            raise ImproperlyConfigured("WANGGE_ENCRYPTION_KEYS 不能为空")
        self.keys: dict[str, AESGCM] = {}
        self.current_id = ""
        for i, item in enumerate(spec):
            key_id, sep, b64 = item.strip().partition(":")
            if not sep or not key_id:
                raise ImproperlyConfigured("WANGGE_ENCRYPTION_KEYS 的每一项须为 keyid:base64key")
            raw = base64.b64decode(b64)
            if len(raw) not in (16, 24, 32):
                raise ImproperlyConfigured(f"加密密钥 {key_id} 长度须为 16/24/32 字节")
            self.keys[key_id] = AESGCM(raw)
            if i == 0:
                self.current_id = key_id
        self.hash_key = hash_key.encode()

    def encrypt(self, plain: str) -> str:
        nonce = os.urandom(12)
        ct = self.keys[self.current_id].encrypt(nonce, plain.encode(), None)
        return f"{self.current_id}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str) -> str:
        key_id, _, b64 = token.partition(":")
        aes = self.keys.get(key_id)
        if aes is None:
            raise ImproperlyConfigured(f"缺少密钥 {key_id}，无法解密")
        raw = base64.b64decode(b64)
        return aes.decrypt(raw[:12], raw[12:], None).decode()

    def key_id_of(self, token: str) -> str:
        return token.partition(":")[0]

    def digest(self, value: str) -> str:
        return hmac.new(self.hash_key, value.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=1)
def _ring(spec: tuple[str, ...], hash_key: str) -> KeyRing:
    return KeyRing(list(spec), hash_key)


def keyring() -> KeyRing:
    return _ring(tuple(settings.WANGGE_ENCRYPTION_KEYS), settings.WANGGE_HASH_KEY)


def encrypt(plain: str | None) -> str:
    return "" if not plain else keyring().encrypt(plain)


def decrypt(token: str | None) -> str:
    return "" if not token else keyring().decrypt(token)


def digest(value: str | None) -> str | None:
    """Keyed hash for exact-match search; None for empty values so unique constraints ignore them."""
    return None if not value else keyring().digest(value)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
