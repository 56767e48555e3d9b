"""Small helpers for register tests: valid ID numbers, buildings and dwellings under the `world` grids."""

from datetime import date
from typing import Any

from stdnum.cn import ric

from wangge.territory.models import Building, Compound, Dwelling, Territory


def make_id(birth: date, *, seq: int = 123, male: bool = True, region: str = "420802") -> str:
    """A valid 18-character resident ID number for `birth` (sex from the parity of the 17th digit)."""
    seq = seq - seq % 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # the check digit position is ignored


def make_building(
    grid: Territory, code: str, *, name: str = "", compound: Compound | None = None, **kw: Any
) -> Building:
    return Building.objects.create(
        code=code, name=name or f"{code}栋", grid=grid, path=grid.code, compound=compound, **kw
    )


def make_dwelling(building: Building, room: str, *, unit: str = "1", use: str = "self") -> Dwelling:
    return Dwelling.objects.create(building=building, unit=unit, room=room, use=use, path=building.path)
