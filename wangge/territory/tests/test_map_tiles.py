"""Base map from one MBTiles file (SQLite, TMS rows) served at /tiles/{z}/{x}/{y}.png."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.territory import tiles

PNG_A = b"\x89PNG\r\n\x1a\n" + b"tile-a"
JPEG_B = b"\xff\xd8\xff\xe0" + b"tile-b"


@pytest.fixture
def mbtiles(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "base.mbtiles"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE metadata (name text, value text);"
        "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob);"
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
    )
    conn.executemany(
        "INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", "png"), ("maxzoom", "1")]
    )
    # TMS: row 0 is the south. XYZ (z=1, x=1, y=0) is the north-east tile = TMS row 1.
    conn.execute("INSERT INTO tiles VALUES (1, 1, 1, ?)", (PNG_A,))
    conn.execute("INSERT INTO tiles VALUES (1, 0, 1, ?)", (JPEG_B,))
    conn.commit()
    conn.close()
    settings.WANGGE_BASEMAP_MBTILES = str(path)
    return path


def _tile(z: int, x: int, y: int) -> Any:
    return Client().get(reverse("map-tile", kwargs={"z": z, "x": x, "y": y}))


def test_tile_is_read_with_the_tms_row_flipped(mbtiles: Path) -> None:
    r = _tile(1, 1, 0)
    assert r.status_code == 200
    assert r.content == PNG_A
    assert r["Content-Type"] == "image/png"
    assert "max-age" in r["Cache-Control"]
    r = _tile(1, 0, 0)
    assert r.content == JPEG_B and r["Content-Type"] == "image/jpeg"
    # XYZ y=1 is TMS row 0: not in the file.
    assert _tile(1, 1, 1).status_code == 404


@pytest.mark.parametrize("z,x,y", [(0, 0, 0), (1, 2, 0), (5, 0, 0), (1, 0, 9)])
def test_missing_or_impossible_tiles_are_404(mbtiles: Path, z: int, x: int, y: int) -> None:
    assert _tile(z, x, y).status_code == 404


def test_file_is_opened_read_only(mbtiles: Path) -> None:
    conn = tiles.open_readonly(str(mbtiles))
    try:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM tiles")
    finally:
        conn.close()
    assert _tile(1, 1, 0).status_code == 200


def test_no_file_configured_or_unreadable_is_404_not_500(settings: Any, tmp_path: Path) -> None:
    settings.WANGGE_BASEMAP_MBTILES = ""
    assert _tile(1, 1, 0).status_code == 404
    settings.WANGGE_BASEMAP_MBTILES = str(tmp_path / "missing.mbtiles")
    assert _tile(1, 1, 0).status_code == 404
    not_mbtiles = tmp_path / "other.sqlite"
    sqlite3.connect(not_mbtiles).close()
    settings.WANGGE_BASEMAP_MBTILES = str(not_mbtiles)
    assert _tile(1, 1, 0).status_code == 404
