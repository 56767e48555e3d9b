"""Address-only reports (A9): 我要说 and the hotline are placed by the building register, and the person
typing sees the match."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from wangge.conftest import PASSWORD
from wangge.events.intake import event_intake_many
from wangge.events.models import Channel, Event, TimelineEntry
from wangge.events.services import EventInput, event_intake
from wangge.territory.models import Building, Compound

MATCH_URL = "/report/address-match/"


@pytest.fixture
def register(world: Any) -> SimpleNamespace:
    xingfu = Compound.objects.create(
        code="C-XF", name="幸福小区", community=world.c11, grid=world.g112, path=world.g112.code
    )
    other = Compound.objects.create(
        code="C-YG", name="阳光花园", community=world.c21, grid=world.g211, path=world.g211.code
    )
    return SimpleNamespace(
        xf3=Building.objects.create(
            code="B-XF3", name="3栋", compound=xingfu, grid=world.g112, path=world.g112.code
        ),
        yg1=Building.objects.create(
            code="B-YG1", name="1栋", compound=other, grid=world.g211, path=world.g211.code
        ),
    )


def _triage_data(event: Event) -> dict[str, Any]:
    return TimelineEntry.objects.get(event=event, action="triage").data


def test_report_page_address_only_lands_in_the_grid(register: Any, world: Any) -> None:
    resp = Client().post(
        "/report/", {"description": "楼道里的灯坏了好几天", "address": "宜昌市测试区幸福小区三栋2单元501"}
    )
    assert resp.status_code == 201, resp.content.decode()[:500]
    event = Event.objects.get()
    assert event.grid_id == world.g112.pk and event.building_id == register.xf3.pk
    assert event.path == world.g112.code
    assert _triage_data(event)["located_by"] == "address"


def test_hotline_page_address_only_lands_in_the_grid(register: Any, world: Any) -> None:
    client = Client()
    client.login(username="admin", password=PASSWORD)
    resp = client.post(
        "/events/hotline/new/",
        {
            "work_order": "GD-1",
            "event_type": "complaint",
            "urgency": "normal",
            "description": "楼道里的灯坏了好几天",
            "address": "幸福小区 ３幢",
            "caller": "张先生",
            "phone": "13800000000",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:800]
    event = Event.objects.get()
    assert event.channel == Channel.HOTLINE and event.grid_id == world.g112.pk
    assert event.building_id == register.xf3.pk


def test_weak_match_waits_in_triage_with_candidates(register: Any, world: Any) -> None:
    event, _ = event_intake(data=EventInput(description="楼道里的灯坏了好几天", address="辛福小区3栋"))
    assert event.grid_id is None and event.needs_triage
    candidates = _triage_data(event)["address_candidates"]
    assert candidates[0]["building"] == register.xf3.pk and candidates[0]["grid"] == world.g112.code
    # The durable-first path (event_triage) records them the same way.
    from wangge.events.services import event_triage

    again = event_triage(event_id=event.pk)
    assert again.needs_triage
    last = TimelineEntry.objects.filter(event=event, action="triage").order_by("-pk").first()
    assert last is not None and last.data["address_candidates"][0]["building"] == register.xf3.pk


def test_batch_places_addresses_by_the_register(register: Any, world: Any) -> None:
    items = [
        EventInput(
            description="楼道里的灯坏了好几天", address="幸福3栋", channel=Channel.HOTLINE, external_id="W1"
        ),
        EventInput(
            description="楼道里的灯坏了好几天",
            address="阳光花园1号楼",
            channel=Channel.HOTLINE,
            external_id="W2",
        ),
        EventInput(
            description="楼道里的灯坏了好几天", address="无名路口", channel=Channel.HOTLINE, external_id="W3"
        ),
    ]
    out = event_intake_many(items=items, actor=world.users.admin)
    events = [Event.objects.get(pk=o.event_id) for o in out]
    assert [e.grid_id for e in events] == [world.g112.pk, world.g211.pk, None]
    assert events[0].building_id == register.xf3.pk and events[2].needs_triage


def test_live_match_shows_names(register: Any) -> None:
    resp = Client().get(MATCH_URL, {"address": "幸福小区3号楼2单元"})
    assert resp.status_code == 200
    text = resp.content.decode()
    assert "匹配到：幸福小区 3栋（六合第二网格）" in text
    assert str(register.xf3.pk) not in text.replace("3栋", "")  # no ids
    miss = Client().get(MATCH_URL, {"address": "无名路口"}).content.decode()
    assert "未找到匹配的楼栋，请在地图上选点" in miss
    assert Client().get(MATCH_URL, {"address": "辛福小区3栋"}).content.decode().count("可能是") == 1


def test_live_match_is_scoped_for_staff(register: Any, world: Any) -> None:
    client = Client()
    client.login(username="grid2", password=PASSWORD)  # grid g112
    assert "匹配到：幸福小区 3栋" in client.get(MATCH_URL, {"address": "幸福小区3栋"}).content.decode()
    assert "未找到" in client.get(MATCH_URL, {"address": "阳光花园1栋"}).content.decode()
    # the public sees the whole register's names
    assert "匹配到：阳光花园 1栋" in Client().get(MATCH_URL, {"address": "阳光花园1栋"}).content.decode()


def test_live_match_is_throttled(register: Any, settings: Any) -> None:
    settings.WANGGE_ADDRESS_MATCH_RATE = "3/m"
    client = Client()
    codes = [client.get(MATCH_URL, {"address": "幸福小区3栋"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert "查询过于频繁" in client.get(MATCH_URL, {"address": "x"}).content.decode()
    assert client.post(MATCH_URL, {"address": "幸福小区3栋"}).status_code == 405


def test_forms_carry_the_live_match(world: Any) -> None:
    page = Client().get("/report/").content.decode()
    assert 'hx-get="/report/address-match/"' in page and 'id="address-match"' in page
    client = Client()
    client.login(username="admin", password=PASSWORD)
    assert 'hx-get="/report/address-match/"' in client.get("/events/hotline/new/").content.decode()


def test_batch_reads_the_register_once_however_many_addresses(register: Any, world: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def building_queries(n: int, prefix: str) -> int:
        items = [
            EventInput(
                description="楼道里的灯坏了好几天",
                address="幸福3栋" if i % 2 else "阳光花园1号楼",
                channel=Channel.HOTLINE,
                external_id=f"{prefix}{i}",
            )
            for i in range(n)
        ]
        with CaptureQueriesContext(connection) as ctx:
            out = event_intake_many(items=items, actor=world.users.admin)
        assert all(Event.objects.get(pk=o.event_id).grid_id for o in out)
        return sum('"territory_building"' in q["sql"] for q in ctx.captured_queries)

    building_queries(2, "warm")  # the address book is built and cached on first use
    assert building_queries(12, "M") == building_queries(2, "S")


def test_live_match_in_english_has_english_punctuation(register: Any) -> None:
    from django.conf import settings

    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = client.get(MATCH_URL, {"address": "幸福小区3号楼"}).content.decode()
    assert "Matched: 幸福小区 3栋 (" in text and "：" not in text and "（" not in text
    assert "Possibly: " in client.get(MATCH_URL, {"address": "辛福小区3栋"}).content.decode()
