"""A base map from one file: raster tiles read from an MBTiles file (SQLite, the MBTiles 1.3 schema)
named by the WANGGE_BASEMAP_MBTILES setting, so an intranet installation needs no tile server.

The file is opened read-only per request (sqlite3 connections are cheap and not shared between
threads). MBTiles rows are TMS: row 0 is the south edge, so the XYZ y Leaflet asks for is flipped.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


def basemap_path() -> str:
    return str(getattr(settings, "WANGGE_BASEMAP_MBTILES", "") or "")


def open_readonly(path: str) -> sqlite3.Connection:
    # mode=ro: Wangge never writes the file; immutable would also skip locking but breaks a file
    # replaced in place, so plain read-only.
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def read_tile(z: int, x: int, y: int) -> bytes | None:
    """The tile image at XYZ (z, x, y), or None when the file has none there (or no file is set)."""
    path = basemap_path()
    if not path or z < 0 or z > 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
        return None
    try:
        conn = open_readonly(path)
    except sqlite3.Error:
        log.error("WANGGE_BASEMAP_MBTILES=%s cannot be opened as an MBTiles file", path)
        return None
    try:
        row = conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),
        ).fetchone()
    except sqlite3.Error:
        log.error("WANGGE_BASEMAP_MBTILES=%s has no readable tiles table", path)
        return None
    finally:
        conn.close()
    return bytes(row[0]) if row and row[0] else None


def content_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
