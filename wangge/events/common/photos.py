"""Photos attached to an event step: content checks and storage (JPEG/PNG/WebP, size and count limits)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from wangge.core.errors import InvalidInput

from ..models import (
    Attachment,
    Event,
    TimelineEntry,
)

log = logging.getLogger(__name__)


# Photos: what is accepted and how big (10 MB each, at most 9 per step).
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

PHOTO_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

PHOTO_MAX_BYTES = 10 * 1024 * 1024

PHOTO_MAX_COUNT = 9


def photo_check(file: Any) -> str:
    """The real content type of an uploaded photo (jpeg/png/webp, ≤10 MB, declared type must match)."""
    from PIL import Image, UnidentifiedImageError

    size = getattr(file, "size", None)
    if size is None:
        raise InvalidInput("无法读取照片", code="invalid_photo")
    if size > PHOTO_MAX_BYTES:
        raise InvalidInput("照片不能超过10MB", code="photo_too_large")
    if size == 0:
        raise InvalidInput("照片为空", code="invalid_photo")
    declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared not in PHOTO_EXT:
        raise InvalidInput("只接受 JPEG、PNG 或 WebP 格式的照片", code="photo_type")
    try:
        file.seek(0)
        with Image.open(file) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("上传的文件不是有效的图片", code="not_an_image") from None
    finally:
        file.seek(0)
    actual = PHOTO_TYPES.get(fmt or "")
    if actual is None:
        raise InvalidInput("只接受 JPEG、PNG 或 WebP 格式的照片", code="photo_type")
    if actual != declared:
        raise InvalidInput("照片的实际格式与声明的类型不符", code="photo_type_mismatch")
    return actual


def photos_check(files: Sequence[Any]) -> list[tuple[Any, str]]:
    files = [f for f in files if f is not None]
    if len(files) > PHOTO_MAX_COUNT:
        raise InvalidInput(f"每次最多上传{PHOTO_MAX_COUNT}张照片", code="too_many_photos")
    return [(f, photo_check(f)) for f in files]


def photos_store(
    event: Event, entry: TimelineEntry, checked: list[tuple[Any, str]], stored: list[str]
) -> list[int]:
    ids = []
    for f, content_type in checked:
        att = Attachment(event=event, entry=entry, content_type=content_type, size=f.size)
        # A random name: nothing the uploader typed ends up in a path or URL.
        att.file.save(uuid.uuid4().hex + PHOTO_EXT[content_type], f, save=False)
        stored.append(str(att.file.name))
        att.save()
        ids.append(att.pk)
    return ids


def files_remove(names: Iterable[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover
            log.warning("could not remove stored file after rollback")
