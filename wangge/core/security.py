"""Helpers for the security settings (docs/deploy.md#https-and-headers).

Imported by settings.py: nothing here may import Django models, DRF or read settings.
"""

from urllib.parse import urlsplit


def tile_origin(url: str) -> str:
    """The origin of a Leaflet tile URL template, for the CSP img-src list ("" when none).

    `https://{s}.tiles.intranet/{z}/{x}/{y}.png` → `https://*.tiles.intranet`: a `{s}` sub-domain
    placeholder becomes the CSP wildcard; a template without scheme and host gives "" (same origin).
    """
    parts = urlsplit((url or "").strip())
    if not parts.scheme or not parts.netloc:
        return ""
    labels = [
        "*" if label.startswith("{") and label.endswith("}") else label for label in parts.netloc.split(".")
    ]
    if any("{" in label or "}" in label for label in labels) or "*" in labels[1:]:
        # A placeholder inside a label (tile-{s}.x) or below the first label cannot be written as a
        # CSP host source: fall back to the scheme alone.
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{'.'.join(labels)}"
