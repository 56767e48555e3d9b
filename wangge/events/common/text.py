"""Masking of personal numbers inside free text (what the public tracking page shows)."""

from __future__ import annotations

import re

from wangge.core.masking import mask_id_number, mask_phone

# Text masking for what the public may read (numbers that look like phones or ID numbers).
_PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

_ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def scrub_text(text: str) -> str:
    """Mask phone numbers and ID numbers inside free text (public tracking page)."""
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text or "")
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
