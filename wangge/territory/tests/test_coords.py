"""Coordinate transforms against published pairs and round trips."""

import math
import random

import pytest

from wangge.territory import coords

# Independent reference values: the eviltransform project's test vectors (WGS-84 → GCJ-02), given as
# (wgs_lat, wgs_lng, gcj_lat, gcj_lng).
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wlat, wlng, glat, glng):
    lng, lat = coords.wgs84_to_gcj02(wlng, wlat)
    assert lng == pytest.approx(glng, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)
    # and back, exactly (iterative inverse), not the ~1e-5 of the one-step approximation
    back_lng, back_lat = coords.gcj02_to_wgs84(glng, glat)
    assert back_lng == pytest.approx(wlng, abs=1e-8)
    assert back_lat == pytest.approx(wlat, abs=1e-8)


def test_tiananmen_pair():
    # The often-quoted Tiananmen pair: WGS-84 (116.391349, 39.907375) ↔ GCJ-02 ≈ (116.397590, 39.908776).
    lng, lat = coords.wgs84_to_gcj02(116.391349, 39.907375)
    assert (lng, lat) == pytest.approx((116.397590, 39.908776), abs=2e-6)
    # The offset is the familiar few hundred metres east and ~150 m north.
    dx = (lng - 116.391349) * 111_320 * math.cos(math.radians(39.9))
    dy = (lat - 39.907375) * 110_574
    assert 500 < dx < 560 and 140 < dy < 170


def test_gcj02_to_bd09_published_values():
    # gcoord's test vector (GCJ-02 [123, 45] → BD-09) and Beijing railway station (GCJ-02 → BD-09).
    assert coords.gcj02_to_bd09(123, 45) == pytest.approx((123.00636499, 45.00636899), abs=1e-8)
    assert coords.gcj02_to_bd09(116.42703, 39.90245) == pytest.approx((116.43351, 39.90851), abs=1e-5)
    assert coords.bd09_to_gcj02(116.43351, 39.90851) == pytest.approx((116.42703, 39.90245), abs=1e-5)


def test_bd09_inverse_is_exact_where_the_published_shortcut_is_not():
    # The usual one-step inverse gives (116.39762729119315, 39.90865673957631) for BD-09 (116.404, 39.915);
    # its forward image misses the input by ~4e-7 degrees. Ours reproduces the input.
    shortcut = (116.39762729119315, 39.90865673957631)
    assert coords.bd09_to_gcj02(116.404, 39.915) == pytest.approx(shortcut, abs=2e-6)
    assert coords.gcj02_to_bd09(*shortcut) != pytest.approx((116.404, 39.915), abs=1e-7)
    assert coords.gcj02_to_bd09(*coords.bd09_to_gcj02(116.404, 39.915)) == pytest.approx(
        (116.404, 39.915), abs=1e-9
    )


def test_round_trips_across_china():
    rnd = random.Random(7)
    for _ in range(300):
        lng, lat = rnd.uniform(73.5, 135.0), rnd.uniform(18.0, 53.5)
        g = coords.wgs84_to_gcj02(lng, lat)
        assert g != (lng, lat)
        assert coords.gcj02_to_wgs84(*g) == pytest.approx((lng, lat), abs=1e-6)
        b = coords.wgs84_to_bd09(lng, lat)
        assert coords.bd09_to_wgs84(*b) == pytest.approx((lng, lat), abs=1e-6)
        assert coords.to_wgs84(b[0], b[1], "bd09") == pytest.approx((lng, lat), abs=1e-6)
        assert coords.to_wgs84(g[0], g[1], "GCJ-02") == pytest.approx((lng, lat), abs=1e-6)


def test_outside_china_gcj02_is_wgs84():
    for lng, lat in [(0.5, 51.5), (-74.0, 40.7), (139.7, 35.7), (100.0, 60.0)]:
        assert coords.wgs84_to_gcj02(lng, lat) == (lng, lat)
        assert coords.gcj02_to_wgs84(lng, lat) == (lng, lat)


def test_unknown_crs():
    with pytest.raises(ValueError):
        coords.to_wgs84(116.4, 39.9, "epsg3857")
