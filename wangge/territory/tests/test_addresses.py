"""Address → building (A9): the ways people write an address, against a small register."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wangge.territory import addresses
from wangge.territory.addresses import address_match, normalise, parse_rest
from wangge.territory.models import Building, Compound


def _compound(world: Any, code: str, name: str, grid: Any, community: Any = None) -> Compound:
    return Compound.objects.create(
        code=code, name=name, community=community or world.c11, grid=grid, path=grid.code
    )


def _building(code: str, name: str, compound: Compound | None, grid: Any, address: str = "") -> Building:
    return Building.objects.create(
        code=code, name=name, compound=compound, grid=grid, path=grid.code, address=address
    )


@pytest.fixture
def register(world: Any) -> SimpleNamespace:
    xingfu = _compound(world, "C-XF", "幸福小区", world.g111)
    yangguang = _compound(world, "C-YG", "阳光花园", world.g112)
    heping1 = _compound(world, "C-HP1", "和平小区", world.g111)
    heping2 = _compound(world, "C-HP2", "和平小区", world.g211, world.c21)
    dongfang1 = _compound(world, "C-DF1", "东方小区", world.g121, world.c12)
    dongfang2 = _compound(world, "C-DF2", "东方花园", world.g121, world.c12)
    return SimpleNamespace(
        xf3=_building("B-XF3", "3栋", xingfu, world.g111, "测试区夷陵大道12号幸福小区3栋"),
        xf5=_building("B-XF5", "5栋", xingfu, world.g111),
        xf12=_building("B-XF12", "12号楼", xingfu, world.g111),
        xfa=_building("B-XFA", "A座", xingfu, world.g111),
        xfz=_building("B-XFZ", "综合楼", xingfu, world.g111),
        yg1=_building("B-YG1", "1栋", yangguang, world.g112),
        yg3=_building("B-YG3", "3栋", yangguang, world.g112),
        hp1=_building("B-HP1", "1栋", heping1, world.g111),
        hp2=_building("B-HP2", "1栋", heping2, world.g211),
        df1=_building("B-DF1", "2栋", dongfang1, world.g121),
        df2=_building("B-DF2", "2栋", dongfang2, world.g121),
        loose=_building("B-LOOSE", "1栋", None, world.g112, "幸福路1号"),
    )


WAYS_TO_XF3 = [
    "幸福小区3栋",
    "幸福小区3栋2单元501",
    "幸福小区3栋2单元501室",
    "幸福小区三栋",
    "幸福小区三栋二单元五〇一",
    "幸福小区3号楼",
    "幸福小区三号楼",
    "幸福小区 ３幢",
    "幸福小区３栋２单元",
    "幸福小区3座",
    "幸福小区3#楼",
    "幸福小区3#",
    "幸福小区3号",
    "幸福小区3-2-501",
    "幸福小区3-501",
    "幸福小区 3 栋 2 单元 501",
    "幸福小区，3栋，2单元",
    "宜昌市测试区幸福小区3-2-501",
    "xx市xx区幸福小区3-2-501",
    "湖北省宜昌市测试区第一街道六合社区幸福小区3栋",
    "测试区夷陵大道12号幸福小区3栋",  # the register's own address
    "夷陵大道12号幸福小区3栋",
    "幸福3栋",  # without 小区
    "幸福三号楼2单元",
    "幸福小区3栋门口的路灯坏了",
    "幸福小区3",
]


@pytest.mark.parametrize("text", WAYS_TO_XF3)
def test_ways_of_writing_match_the_building(register: Any, world: Any, text: str) -> None:
    found = address_match(text)
    assert found.best is not None, (text, [c.as_data() for c in found.candidates])
    assert found.best.building == register.xf3
    assert found.best.grid == world.g111 and found.best.grid_name == "六合第一网格"
    assert found.best.compound_name == "幸福小区" and found.best.building_name == "3栋"
    assert found.best.score >= addresses.confident_threshold()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("幸福小区12栋", "B-XF12"),
        ("幸福小区十二号楼", "B-XF12"),
        ("幸福小区A座", "B-XFA"),
        ("幸福小区ａ座3单元", "B-XFA"),
        ("幸福小区综合楼", "B-XFZ"),
        ("阳光花园三栋", "B-YG3"),
        ("阳光3栋", "B-YG3"),
        ("幸福路1号", "B-LOOSE"),  # a building's own address, no compound (not 幸福小区1栋)
    ],
)
def test_other_buildings(register: Any, text: str, code: str) -> None:
    found = address_match(text)
    assert found.best is not None and found.best.building is not None, text
    assert found.best.building.code == code


def test_parts_are_parsed() -> None:
    assert normalise("幸福小区 ３幢 二单元 五〇一室") == "幸福小区3栋2单元501室"
    assert normalise("一百零五号楼") == "105栋"
    parsed = parse_rest(normalise("3栋2单元501"))
    assert (parsed.building, parsed.unit, parsed.room) == ("3", "2", "501")
    assert parse_rest("3-2-501") == parse_rest("3栋2单元501")


@pytest.mark.parametrize(
    "text", ["今天天气很好", "人民路5号", "幸福路", "无名路口", "", "  ", "3栋", "星光大道9号"]
)
def test_unrelated_text_matches_nothing(register: Any, text: str) -> None:
    found = address_match(text)
    assert found.best is None and found.candidates == [], [c.as_data() for c in found.candidates]


def test_same_name_in_two_communities_is_ambiguous_unless_scoped(register: Any, world: Any) -> None:
    found = address_match("和平小区1栋")
    assert found.best is None
    assert {c.building for c in found.candidates} == {register.hp1, register.hp2}
    scoped = address_match("和平小区1栋", within=world.s1.code)
    assert scoped.best is not None and scoped.best.building == register.hp1


def test_shared_stem_is_ambiguous(register: Any) -> None:
    found = address_match("东方2栋")
    assert found.best is None
    assert {c.building for c in found.candidates} == {register.df1, register.df2}


def test_typo_and_other_suffix_are_candidates_not_matches(register: Any) -> None:
    for text in ("辛福小区3栋", "幸福小去3栋", "幸福花园3栋"):
        found = address_match(text)
        assert found.best is None, text
        assert found.candidates and found.candidates[0].building == register.xf3, text


def test_unknown_building_number_gives_the_compound_as_a_candidate(register: Any) -> None:
    found = address_match("幸福小区99栋")
    assert found.best is None
    assert found.candidates[0].building is None and found.candidates[0].compound_name == "幸福小区"


def test_compound_without_building_locates_its_grid(register: Any, world: Any) -> None:
    found = address_match("阳光花园门口")
    assert found.best is not None and found.best.building is None
    assert found.best.grid == world.g112


def test_scope_hides_buildings_outside(register: Any, world: Any) -> None:
    assert address_match("阳光花园3栋", within=world.g111.code).candidates == []


def test_index_follows_the_register(register: Any, world: Any) -> None:
    assert address_match("幸福小区7栋").best is None
    new = _building("B-XF7", "7栋", register.xf3.compound, world.g112)
    assert address_match("幸福小区7栋").best.building == new  # type: ignore[union-attr]
    # Another process's change (no signal here): seen through the version check.
    Building.objects.filter(pk=new.pk).update(name="8栋")
    addresses.address_index()  # cached
    addresses._cache["checked"] = 0.0  # noqa: SLF001 - skip the once-a-second wait
    Building.objects.bulk_create(
        [Building(code="B-XF9", name="9栋", compound=new.compound, grid=world.g111, path=world.g111.code)]
    )
    assert address_match("幸福小区9栋").best is not None
    assert address_match("幸福小区8栋").best.building == new  # type: ignore[union-attr]  (renamed)
    # A redraw moves a building with .update(): the grid comes from the fresh row.
    Building.objects.filter(pk=register.xf5.pk).update(grid=world.g112, path=world.g112.code)
    assert address_match("幸福小区5栋").best.grid == world.g112  # type: ignore[union-attr]


def test_no_query_per_building(register: Any, world: Any) -> None:
    compound = register.xf3.compound
    Building.objects.bulk_create(
        [
            Building(
                code=f"B-MANY{i}", name=f"{i}栋", compound=compound, grid=world.g111, path=world.g111.code
            )
            for i in range(100, 400)
        ]
    )
    addresses.invalidate()
    address_match("幸福小区3栋")  # builds the index
    for text in ("幸福小区3栋", "辛福小区350栋", "幸福小区", "和平小区1栋"):
        with CaptureQueriesContext(connection) as queries:
            address_match(text)
        assert len(queries) <= 4, (text, [q["sql"] for q in queries])
