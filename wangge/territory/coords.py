"""Chinese map coordinate systems (T4): WGS-84 ↔ GCJ-02 ↔ BD-09.

- WGS-84: GPS, Tianditu (CGCS2000 is within centimetres of it). Everything is stored in WGS-84.
- GCJ-02 ("Mars coordinates"): AMap/Gaode, Tencent, WeChat `wx.getLocation(type: 'gcj02')`.
- BD-09: Baidu, a further offset of GCJ-02.

The forward transforms are the published ones (Krasovsky 1940 ellipsoid, a = 6378245 m,
e² = 0.00669342162296594323; BD-09 via x_pi = π·3000/180). Outside mainland China GCJ-02 is WGS-84.
The reverse transforms have no closed form: they are solved by fixed-point iteration on the forward
transform until the round trip agrees to better than 1e-9 degrees (≈ 0.1 mm).

All functions take and return (lng, lat) in degrees, in that order (GeoJSON order).
"""

import math
from collections.abc import Callable

A = 6378245.0
EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0

WGS84 = "wgs84"
GCJ02 = "gcj02"
BD09 = "bd09"
CRS_CHOICES = (WGS84, GCJ02, BD09)

_TOLERANCE = 1e-9
_MAX_ITERATIONS = 30


def out_of_china(lng: float, lat: float) -> bool:
    """The rectangle outside which GCJ-02 applies no offset (the published bound)."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (the published forward transform)."""
    if out_of_china(lng, lat):
        return lng, lat
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (A / sqrtmagic * math.cos(radlat) * math.pi)
    return lng + dlng, lat + dlat


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (the published forward transform)."""
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_approx(lng: float, lat: float) -> tuple[float, float]:
    """The published approximate inverse (error up to ~1e-6 degrees); the starting point of the iteration."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def _invert(
    forward: Callable[[float, float], tuple[float, float]],
    target_lng: float,
    target_lat: float,
    start: tuple[float, float],
) -> tuple[float, float]:
    """Solve forward(p) == target by fixed-point iteration p ← p − (forward(p) − target).

    The offsets change slowly with position (their derivative is ~1e-5), so this converges in a few steps.
    """
    lng, lat = start
    for _ in range(_MAX_ITERATIONS):
        f_lng, f_lat = forward(lng, lat)
        d_lng, d_lat = f_lng - target_lng, f_lat - target_lat
        lng, lat = lng - d_lng, lat - d_lat
        if abs(d_lng) < _TOLERANCE and abs(d_lat) < _TOLERANCE:
            break
    return lng, lat


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, exact to < 1e-9 degrees (iterative inverse of the forward transform)."""
    if out_of_china(lng, lat):
        return lng, lat
    return _invert(wgs84_to_gcj02, lng, lat, (lng, lat))


def bd09_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02, exact to < 1e-9 degrees (iterative inverse of the forward transform)."""
    return _invert(gcj02_to_bd09, lng, lat, _bd09_to_gcj02_approx(lng, lat))


def wgs84_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def to_wgs84(lng: float, lat: float, crs: str = WGS84) -> tuple[float, float]:
    """Convert a point given in `crs` ("wgs84", "gcj02" or "bd09") to WGS-84. Raises ValueError otherwise."""
    crs = (crs or WGS84).lower().replace("-", "").replace("_", "")
    if crs == WGS84:
        return float(lng), float(lat)
    if crs == GCJ02:
        return gcj02_to_wgs84(float(lng), float(lat))
    if crs == BD09:
        return bd09_to_wgs84(float(lng), float(lat))
    raise ValueError(f"unknown crs {crs!r}")
