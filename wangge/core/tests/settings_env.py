"""Evaluate wangge/settings.py under a given environment, to test what the environment variables do.

The settings module reads the environment once at import; these tests run its code again in a fresh
namespace with a patched os.environ and hand the result to override_settings.
"""

import base64
import os
import runpy
from pathlib import Path
from typing import Any
from unittest import mock

import wangge

SETTINGS_FILE = Path(wangge.__file__).parent / "settings.py"

PRODUCTION_ENV = {
    "WANGGE_SECRET_KEY": "p9-Vx2q!R7tL0zK4mN8sB3wY6cH1jF5dG-uQ0eA2iO7rT9pX4vZ",
    "WANGGE_ENCRYPTION_KEYS": "k2025:" + base64.b64encode(bytes(range(32))).decode(),
    "WANGGE_HASH_KEY": "prod-like-hash-key-for-tests-only-0123456789",
    "WANGGE_ALLOWED_HOSTS": "wangge.example.gov.cn",
    "WANGGE_DEBUG": "false",
    "WANGGE_HTTPS": "true",
    "WANGGE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https",
    "WANGGE_PUBLIC_API_DOCS": "false",
}

# Settings the deploy checks and the security middleware read (not INSTALLED_APPS or DATABASES, which
# override_settings cannot swap safely and which the environment here does not change).
_PREFIXES = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "WANGGE_", "CONTENT_SECURITY_POLICY")
_NAMES = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "X_FRAME_OPTIONS", "SILENCED_SYSTEM_CHECKS")


def settings_under(env: dict[str, str]) -> dict[str, Any]:
    """The security-related settings wangge/settings.py computes with `env` (WANGGE_* of the caller's
    own environment and the .env file left out, so a developer's settings do not leak in)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    clean.update(env)
    with mock.patch.dict(os.environ, clean, clear=True), mock.patch("environ.Env.read_env"):
        namespace = runpy.run_path(str(SETTINGS_FILE))
    return {k: v for k, v in namespace.items() if k.startswith(_PREFIXES) or k in _NAMES}
