"""Small helpers shared by the events-core tests (photos, grid staff, a located event)."""

import io
from datetime import date
from types import SimpleNamespace
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from wangge.conftest import centre
from wangge.events.models import HandlingUnit
from wangge.events.services import EventInput, event_intake
from wangge.territory.services import grid_assign_staff

G111 = centre(0, 0)  # (lat, lng) inside grid 420802001001001
G112 = centre(1, 0)
G211 = centre(3, 0)


def photo(name: str = "p.jpg", fmt: str = "JPEG", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format=fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=content_type)


def staff(world: SimpleNamespace) -> None:
    """grid1/grid2 as the GridAssignment workers of their grids."""
    since = date(2025, 1, 1)
    grid_assign_staff(grid=world.g111, user=world.users.grid1, since=since)
    grid_assign_staff(grid=world.g112, user=world.users.grid2, since=since)


def enforcement_unit(world: SimpleNamespace, *members: Any) -> HandlingUnit:
    unit = HandlingUnit.objects.create(
        name="综合行政执法大队", kind=HandlingUnit.Kind.ENFORCEMENT, territory=world.district, path="420802"
    )
    unit.members.set(members)
    return unit


def report(text: str = "小区门口烧烤油烟很大，呛得受不了", at: tuple[float, float] = G111, **kw: Any) -> Any:
    lat, lng = at
    kw.setdefault("reporter_name", "张三丰")
    kw.setdefault("reporter_phone", "13812345678")
    event, _ = event_intake(data=EventInput(description=text, lat=lat, lng=lng, **kw))
    return event
