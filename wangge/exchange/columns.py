"""Column specifications of the import/export files, one per register.

Headers are the Chinese ones a community office writes. Each column has a machine key (what
wangge.registry.bulk works with), the canonical header (what templates and exports write), and the
variants accepted on import. Unknown extra columns are ignored; missing required ones are reported
together, before any row is read.
"""

import re
from dataclasses import dataclass, field

from wangge.core.errors import InvalidInput


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    personal: bool = False  # masked in error reports and in exports without accounts.export_personal
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    kind: str
    label: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)

    def header_of(self, key: str) -> str:
        try:
            return self.column(key).header
        except KeyError:
            return ""


DATE_HELP = "日期，如 2024-01-05、2024/1/5 或 2024年1月5日"
COORD_NOTE = "经纬度为 WGS-84（GPS/天地图）；高德、腾讯、百度坐标请先转换"

RESIDENTS = Spec(
    kind="residents",
    label="居民",
    columns=(
        Column("name", "姓名", ("居民姓名",), required=True),
        Column(
            "id_number",
            "身份证号",
            ("身份证号码", "公民身份号码", "身份证", "证件号码", "公民身份证号"),
            required=True,
            personal=True,
            help="18 位居民身份证号码，请将该列设为“文本”格式，以免 Excel 丢失末几位",
        ),
        Column(
            "phone",
            "手机号",
            ("手机", "手机号码", "联系电话", "电话", "联系方式"),
            personal=True,
            help="11 位手机号，或带区号的固定电话",
        ),
        Column(
            "building",
            "楼栋编码",
            ("楼栋代码", "楼栋编号"),
            required=True,
            help="本平台中的楼栋编码（可在“楼栋”导出文件中查到）",
        ),
        Column("unit", "单元", ("单元号",), help="如 1、2；没有单元可留空"),
        Column("room", "房号", ("房间号", "门牌号", "室号"), help="如 301；填写后自动建立房屋"),
        Column(
            "household_role",
            "与户主关系",
            ("户主关系", "与户主的关系"),
            choices=("户主", "配偶", "子女", "父母", "孙子女", "其他"),
        ),
        Column(
            "residence_type",
            "居住类型",
            ("人口类型", "户籍类型", "居住性质"),
            choices=("户籍", "常住", "流动", "租住"),
        ),
        Column("ethnicity", "民族", ()),
        Column(
            "tags",
            "重点人群",
            ("重点人群标签", "人群标签", "人员类别"),
            help="可填多个，用顿号“、”或逗号分隔；填名称或代码。年龄类人群（60岁以上等）由出生日期自动计算，无需填写",
        ),
        Column("moved_in", "迁入日期", ("入住日期", "迁入时间", "入住时间"), help=DATE_HELP),
    ),
    notes=(
        "以身份证号识别居民：已登记的居民会被更新，不会重复新增。",
        "文件中没有的列不会改动原有数据；有该列但单元格为空，会清空原有内容。",
        "楼栋须在您的管辖范围内，否则该行不会导入。",
    ),
)

BUILDINGS = Spec(
    kind="buildings",
    label="楼栋",
    columns=(
        Column(
            "code", "楼栋编码", ("楼栋代码", "楼栋编号"), required=True, help="本辖区内唯一，最长 32 个字符"
        ),
        Column("name", "楼栋名称", ("楼栋名", "楼号", "楼栋"), required=True, help="如 3栋、A座"),
        Column(
            "compound",
            "小区名称",
            ("小区", "院落名称", "小区/院落"),
            help="同一社区内按名称匹配，没有则自动新建",
        ),
        Column(
            "grid",
            "网格编码",
            ("网格代码", "所属网格编码", "网格编号"),
            required=True,
            help="15 位网格编码（也可填 12 位社区编码）",
        ),
        Column("address", "地址", ("楼栋地址", "详细地址")),
        Column("lng", "经度", (), help=COORD_NOTE),
        Column("lat", "纬度", ()),
        Column("floors", "层数", ("楼层数", "总层数")),
        Column("units", "单元数", ("单元总数",)),
    ),
    notes=("以楼栋编码识别楼栋：已有的楼栋会被更新。", "文件中没有的列不会改动原有数据。"),
)

PLACES = Spec(
    kind="places",
    label="场所/商户",
    columns=(
        Column("name", "名称", ("场所名称", "商户名称", "单位名称", "店名"), required=True),
        Column("credit_code", "统一社会信用代码", ("信用代码", "社会信用代码"), help="18 位；没有可留空"),
        Column("kind", "类别", ("场所类别", "行业类别", "类型")),
        Column("licence_status", "证照状态", ("营业执照状态", "执照状态"), choices=("有效", "过期", "无证")),
        Column("operator_name", "经营者", ("负责人", "法定代表人", "法人代表", "经营者姓名")),
        Column("phone", "联系电话", ("电话", "手机", "手机号", "联系方式"), personal=True),
        Column("address", "地址", ("经营地址", "详细地址")),
        Column("building", "楼栋编码", ("楼栋代码",), help="填写则归属该楼栋所在网格"),
        Column("lng", "经度", (), help=COORD_NOTE),
        Column("lat", "纬度", ()),
    ),
    notes=(
        "有统一社会信用代码的按代码识别，没有的按“名称+地址”识别；已有的会被更新。",
        "楼栋编码和经纬度至少填一项，用来确定所属网格。",
    ),
)

FACILITIES = Spec(
    kind="facilities",
    label="部件",
    columns=(
        Column(
            "code",
            "部件编码",
            ("部件代码", "部件编号"),
            required=True,
            help="16 位：6 位行政区划 + 2 位大类 + 2 位小类 + 6 位流水号（GB/T 30428）",
        ),
        Column("name", "名称", ("部件名称",)),
        Column("condition", "状态", ("部件状态", "完好状态"), choices=("完好", "破损", "丢失", "占用")),
        Column("owner_unit", "权属单位", ("管理单位", "主管部门", "养护单位")),
        Column("address", "位置描述", ("位置", "地址", "所在位置")),
        Column("lng", "经度", (), required=True, help=COORD_NOTE),
        Column("lat", "纬度", (), required=True),
    ),
    notes=("以部件编码识别部件：已有的会被更新。", "按经纬度确定所属网格，须在您的管辖范围内。"),
)

SPECS: dict[str, Spec] = {s.kind: s for s in (RESIDENTS, BUILDINGS, PLACES, FACILITIES)}

_STRIP = re.compile(r"[\s\u3000*＊:：]|[（(][^）)]*[）)]")


def normalise_header(value: object) -> str:
    """'* 身份证号码（必填）' -> '身份证号码'."""
    if value is None:
        return ""
    return _STRIP.sub("", str(value)).strip()


def _lookup(spec: Spec) -> dict[str, str]:
    table: dict[str, str] = {}
    for c in spec.columns:
        for h in (c.header, *c.aliases):
            table[normalise_header(h)] = c.key
    return table


def match_headers(spec: Spec, cells: list[object]) -> dict[int, str]:
    """Column index -> key for the recognised headers of one row (unknown ones are left out)."""
    table = _lookup(spec)
    out: dict[int, str] = {}
    for i, cell in enumerate(cells):
        key = table.get(normalise_header(cell))
        if key is not None:
            out[i] = key
    return out


def check_headers(spec: Spec, cells: list[object]) -> dict[int, str]:
    """The mapping for a header row; one InvalidInput naming every missing or repeated column."""
    mapping = match_headers(spec, cells)
    seen: dict[str, int] = {}
    repeated: list[str] = []
    for i, key in mapping.items():
        if key in seen:
            repeated.append(spec.header_of(key))
        seen.setdefault(key, i)
    missing = [c.header for c in spec.columns if c.required and c.key not in seen]
    if missing:
        raise InvalidInput(
            f"缺少必填列：{'、'.join(missing)}。请使用模板中的列名（第一行为列名）。",
            code="missing_columns",
            details={"missing": missing, "found": [str(cells[i]) for i in sorted(mapping)]},
        )
    if repeated:
        raise InvalidInput(
            f"列重复出现：{'、'.join(sorted(set(repeated)))}",
            code="duplicate_columns",
            details={"repeated": sorted(set(repeated))},
        )
    return mapping


def spec_for(kind: str) -> Spec:
    try:
        return SPECS[kind]
    except KeyError:
        raise InvalidInput("导入/导出类型无效（可选：居民、楼栋、场所/商户、部件）", code="invalid_kind")
