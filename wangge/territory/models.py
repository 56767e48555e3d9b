"""Territory tree: district → street → community → grid, then compound → building → dwelling.

The code of a node is its path: 6 digits of division + 3 street + 3 community + 3 grid (GB/T 30428 style).
Every object that belongs to the territory stores the path of its node, so scope is a prefix match.
"""

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q


class Level(models.TextChoices):
    DISTRICT = "district", "区"
    STREET = "street", "街道"
    COMMUNITY = "community", "社区"
    GRID = "grid", "网格"


CODE_LENGTH: dict[str, int] = {Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12, Level.GRID: 15}
PARENT_LEVEL = {Level.STREET: Level.DISTRICT, Level.COMMUNITY: Level.STREET, Level.GRID: Level.COMMUNITY}


class GridType(models.TextChoices):
    BASIC = "basic", "基础网格"
    COMPREHENSIVE = "comprehensive", "综合网格"
    DEDICATED = "dedicated", "专属网格"


class TerritoryQuerySet(models.QuerySet):
    def active_on(self, on: date) -> "TerritoryQuerySet":
        """Nodes in force on `on`: valid_from (if any) on or before it, valid_to (if any) after it."""
        return self.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on)).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=on)
        )


class Territory(models.Model):
    level = models.CharField("层级", max_length=16, choices=Level.choices)
    code = models.CharField("编码", max_length=15, unique=True)
    name = models.CharField("名称", max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name="上级"
    )
    grid_type = models.CharField("网格类型", max_length=16, choices=GridType.choices, blank=True)
    # Grids retired by a redraw keep their row (old events and history still point at them).
    valid_from = models.DateField("生效日期", null=True, blank=True)
    valid_to = models.DateField("停用日期", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TerritoryQuerySet.as_manager()

    class Meta:
        verbose_name = "区划/网格"
        verbose_name_plural = "区划/网格"
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def path(self) -> str:
        return self.code

    @property
    def is_active(self) -> bool:
        return self.valid_to is None


class GridBoundaryQuerySet(models.QuerySet):
    def valid_on(self, on: date) -> "GridBoundaryQuerySet":
        """Boundaries in force on `on`, of grids in force on `on`."""
        return (
            self.filter(valid_from__lte=on)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
            .filter(Q(grid__valid_from__isnull=True) | Q(grid__valid_from__lte=on))
            .filter(Q(grid__valid_to__isnull=True) | Q(grid__valid_to__gt=on))
        )


class GridBoundary(models.Model):
    """One version of a grid's polygon (GeoJSON, WGS-84), valid on [valid_from, valid_to)."""

    grid = models.ForeignKey(
        Territory, on_delete=models.PROTECT, related_name="boundaries", verbose_name="网格"
    )
    geojson = models.JSONField("边界(GeoJSON geometry)")
    min_lng = models.FloatField()
    min_lat = models.FloatField()
    max_lng = models.FloatField()
    max_lat = models.FloatField()
    area_m2 = models.FloatField("面积(平方米)", default=0)
    valid_from = models.DateField("生效日期")
    valid_to = models.DateField("失效日期", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GridBoundaryQuerySet.as_manager()

    class Meta:
        verbose_name = "网格边界"
        verbose_name_plural = "网格边界"
        indexes = [models.Index(fields=["valid_to", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.grid_id} {self.valid_from}–{self.valid_to or ''}"


class GeometryVersion(models.Model):
    """A single-row counter bumped whenever any boundary changes; processes rebuild their STRtree on change."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"v{self.version}"


class GridDuty(models.TextChoices):
    WORKER = "worker", "专职网格员"
    PART_TIME = "part_time", "兼职网格员"
    LEADER = "leader", "网格长"


class GridAssignment(models.Model):
    grid = models.ForeignKey(
        Territory, on_delete=models.PROTECT, related_name="assignments", verbose_name="网格"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="grid_assignments",
        verbose_name="人员",
    )
    duty = models.CharField("职责", max_length=16, choices=GridDuty.choices, default=GridDuty.WORKER)
    since = models.DateField("起始日期")
    until = models.DateField("结束日期", null=True, blank=True)

    class Meta:
        verbose_name = "网格人员"
        verbose_name_plural = "网格人员"

    def __str__(self) -> str:
        return f"{self.grid_id} {self.user_id} {self.duty}"


class GridRedraw(models.Model):
    """A redraw (split, merge, new boundary) as one recorded operation with its effective date."""

    class Kind(models.TextChoices):
        CREATE = "create", "新建"
        RESHAPE = "reshape", "调整边界"
        SPLIT = "split", "拆分"
        MERGE = "merge", "合并"

    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    effective_date = models.DateField("生效日期")
    old_codes = models.JSONField("原网格", default=list)
    new_codes = models.JSONField("新网格", default=list)
    moved = models.JSONField("迁移对象", default=dict)
    # The community the redraw happened in (its code): scope, like every other object's path.
    path = models.CharField(max_length=15, db_index=True, blank=True)
    note = models.CharField("说明", max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "网格调整"
        verbose_name_plural = "网格调整"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.effective_date}"


class Compound(models.Model):
    """小区 / 院落."""

    code = models.CharField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100)
    community = models.ForeignKey(
        Territory, on_delete=models.PROTECT, related_name="compounds", verbose_name="社区"
    )
    grid = models.ForeignKey(
        Territory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grid_compounds",
        verbose_name="网格",
    )
    path = models.CharField(max_length=15, db_index=True)
    address = models.CharField("地址", max_length=200, blank=True)

    class Meta:
        verbose_name = "小区"
        verbose_name_plural = "小区"

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    """楼栋. Natural key: code (unique within the installation)."""

    code = models.CharField("楼栋编码", max_length=32, unique=True)
    name = models.CharField("楼栋名称", max_length=100)
    compound = models.ForeignKey(
        Compound,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="buildings",
        verbose_name="小区",
    )
    grid = models.ForeignKey(
        Territory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="buildings",
        verbose_name="网格",
    )
    path = models.CharField(max_length=15, db_index=True)
    address = models.CharField("地址", max_length=200, blank=True, db_index=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)
    floors = models.PositiveSmallIntegerField("层数", default=1)
    units = models.PositiveSmallIntegerField("单元数", default=1)
    use = models.CharField("用途", max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "楼栋"
        verbose_name_plural = "楼栋"

    def __str__(self) -> str:
        return f"{self.compound.name if self.compound_id and self.compound else ''}{self.name}"


class DwellingUse(models.TextChoices):
    SELF = "self", "自住"
    RENTED = "rented", "出租"
    VACANT = "vacant", "空置"
    SHOP = "shop", "商铺"


class Dwelling(models.Model):
    """户 / 房屋."""

    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="dwellings", verbose_name="楼栋"
    )
    unit = models.CharField("单元", max_length=16, blank=True)
    room = models.CharField("房号", max_length=16)
    floor = models.SmallIntegerField("楼层", null=True, blank=True)
    use = models.CharField("用途", max_length=16, choices=DwellingUse.choices, default=DwellingUse.SELF)
    area_m2 = models.FloatField("面积", null=True, blank=True)
    path = models.CharField(max_length=15, db_index=True)

    class Meta:
        verbose_name = "房屋"
        verbose_name_plural = "房屋"
        constraints = [models.UniqueConstraint(fields=["building", "unit", "room"], name="uniq_dwelling")]

    def __str__(self) -> str:
        return f"{self.unit}{'单元' if self.unit else ''}{self.room}室"
