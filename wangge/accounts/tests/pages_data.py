"""Register data for the page tests: a building in grid g111 and one in g112, with residents."""

from datetime import date
from types import SimpleNamespace
from typing import Any

from wangge.registry.services import building_create, dwelling_create, resident_create
from wangge.territory.models import Compound
from wangge.territory.services import grid_assign_staff

_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def id_number(area: str, birth: str, seq: int) -> str:
    """A valid resident ID number (GB 11643, ISO 7064 MOD 11-2 check character)."""
    body = f"{area}{birth}{seq:03d}"
    check = (12 - sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def make_register(world: Any) -> SimpleNamespace:
    """Buildings, dwellings and residents in grids g111 and g112 (created by the district admin)."""
    admin = world.users.admin
    grid_assign_staff(grid=world.g111, user=world.users.grid1, since=date(2025, 1, 1))
    compound = Compound.objects.create(
        code="C001", name="六合小区", community=world.c11, grid=world.g111, path=world.g111.path
    )
    b1 = building_create(
        actor=admin,
        code="B001",
        name="1栋",
        compound=compound,
        grid=world.g111,
        address="六合路1号",
        floors=6,
        units=2,
    )
    b2 = building_create(actor=admin, code="B002", name="2栋", grid=world.g112, address="六合路2号", floors=3)
    d101 = dwelling_create(actor=admin, building=b1, unit="1", room="101", floor=1)
    d601 = dwelling_create(actor=admin, building=b1, unit="1", room="601", floor=6, use="rented")
    d201 = dwelling_create(actor=admin, building=b2, unit="", room="201", floor=2)
    zhang = resident_create(
        actor=admin,
        name="张建国",
        id_number=id_number("420802", "19500312", 123),
        phone="13812345678",
        dwelling=d101,
        moved_in=date(2020, 5, 1),
        tags=["empty_nest"],
        health_notes="高血压",
    )
    li = resident_create(
        actor=admin,
        name="李秀英",
        id_number=id_number("420802", "19880101", 246),
        phone="13998765432",
        dwelling=d601,
        moved_in=date(2021, 3, 1),
        tags=["long_rent"],
    )
    wang = resident_create(
        actor=admin,
        name="王小明",
        id_number=id_number("420802", "20150601", 111),
        phone="",
        dwelling=d201,
        moved_in=date(2022, 1, 1),
    )
    return SimpleNamespace(
        compound=compound,
        b1=b1,
        b2=b2,
        d101=d101,
        d601=d601,
        d201=d201,
        zhang=zhang,
        li=li,
        wang=wang,
        zhang_id=id_number("420802", "19500312", 123),
        zhang_phone="13812345678",
    )
