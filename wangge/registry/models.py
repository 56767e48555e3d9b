"""The basic information base: residents, dwellings' occupants, places, facilities, organisations.

Personal values (ID number, phone, health notes) are stored only encrypted (`*_enc`) with a keyed hash
(`*_hash`) beside them for exact search. Masking and decryption live in wangge.core.
"""

from django.db import models


class Sex(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"


class HouseholdRole(models.TextChoices):
    HEAD = "head", "户主"
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    PARENT = "parent", "父母"
    GRANDCHILD = "grandchild", "孙子女"
    OTHER = "other", "其他"


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", "户籍"
    PERMANENT = "permanent", "常住"
    FLOATING = "floating", "流动"
    RENTING = "renting", "租住"


class ResidentStatus(models.TextChoices):
    ACTIVE = "active", "在册"
    MOVED_OUT = "moved_out", "已迁出"
    DECEASED = "deceased", "已故"


class KeyGroup(models.Model):
    """重点人群 tag. Derived tags (by age) are computed from birth dates at query time, so they stay
    correct as people age; set tags are stored per resident. Seeded by migration, editable in admin."""

    class Kind(models.TextChoices):
        DERIVED = "derived", "按年龄自动"
        SET = "set", "人工标注"

    code = models.CharField("代码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=50)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    min_age = models.PositiveSmallIntegerField("最小年龄(含)", null=True, blank=True)
    max_age = models.PositiveSmallIntegerField("最大年龄(含)", null=True, blank=True)
    colour = models.CharField("七色牌颜色", max_length=16, blank=True)
    sensitive = models.BooleanField("敏感", default=False)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "重点人群"
        verbose_name_plural = "重点人群"
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name


class Resident(models.Model):
    # No index on name: search is `icontains`, which no b-tree serves.
    name = models.CharField("姓名", max_length=50)
    id_number_enc = models.TextField("身份证号(密文)", blank=True)
    # Hash columns are indexed in Meta: `db_index`/`unique` would also add a useless varchar_pattern_ops
    # (LIKE) index on PostgreSQL, which slows every insert.
    id_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    phone_enc = models.TextField("手机号(密文)", blank=True)
    phone_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    birth_date = models.DateField("出生日期", null=True, blank=True, db_index=True)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices, blank=True)
    ethnicity = models.CharField("民族", max_length=16, blank=True)
    dwelling = models.ForeignKey(
        "territory.Dwelling",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
        verbose_name="现住房屋",
    )
    building = models.ForeignKey(
        "territory.Building",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
        verbose_name="楼栋",
    )
    path = models.CharField(max_length=15, db_index=True)
    household_role = models.CharField("与户主关系", max_length=16, choices=HouseholdRole.choices, blank=True)
    residence_type = models.CharField(
        "居住类型", max_length=16, choices=ResidenceType.choices, default=ResidenceType.PERMANENT
    )
    status = models.CharField(
        "状态", max_length=16, choices=ResidentStatus.choices, default=ResidentStatus.ACTIVE
    )
    tags = models.ManyToManyField(KeyGroup, blank=True, related_name="residents", verbose_name="重点人群标签")
    # Sensitive (PIPL art. 28): never listed; shown only on the card to those who may see the register.
    is_party_member = models.BooleanField("党员", default=False)
    health_notes_enc = models.TextField("健康状况(密文)", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "居民"
        verbose_name_plural = "居民"
        indexes = [
            models.Index(fields=["path", "birth_date"]),
            models.Index(fields=["phone_hash"], name="resident_phone_hash_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["id_hash"], name="uniq_resident_id_hash")]

    def __str__(self) -> str:
        return f"居民#{self.pk}"

    def audit_label(self) -> str:
        return f"居民#{self.pk}"


class OccupancyRelation(models.TextChoices):
    OWNER = "owner", "产权人"
    TENANT = "tenant", "租户"
    LIVES = "lives", "居住"
    REGISTERED = "registered", "户籍在此"


class Occupancy(models.Model):
    """Who lived where, when: move-in and move-out history of a dwelling."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="occupancies")
    dwelling = models.ForeignKey("territory.Dwelling", on_delete=models.PROTECT, related_name="occupancies")
    relation = models.CharField("关系", max_length=16, choices=OccupancyRelation.choices, default="lives")
    moved_in = models.DateField("迁入日期")
    moved_out = models.DateField("迁出日期", null=True, blank=True)
    path = models.CharField(max_length=15, db_index=True)

    class Meta:
        verbose_name = "居住记录"
        verbose_name_plural = "居住记录"
        indexes = [models.Index(fields=["dwelling", "moved_out"])]

    def __str__(self) -> str:
        return f"居住记录#{self.pk}"


class LicenceStatus(models.TextChoices):
    VALID = "valid", "有效"
    EXPIRED = "expired", "过期"
    NONE = "none", "无证"


class Place(models.Model):
    """商户 / 场所. Natural key: unified social credit code, else name + address."""

    natural_key = models.CharField(max_length=250, unique=True)
    name = models.CharField("名称", max_length=150)
    kind = models.CharField("类别", max_length=50, blank=True)
    credit_code = models.CharField("统一社会信用代码", max_length=18, blank=True)
    licence_status = models.CharField(
        "证照状态", max_length=16, choices=LicenceStatus.choices, default=LicenceStatus.VALID
    )
    operator_name = models.CharField("经营者", max_length=50, blank=True)
    phone_enc = models.TextField("联系电话(密文)", blank=True)
    phone_hash = models.CharField(max_length=64, null=True, blank=True, db_index=True)  # noqa: DJ001
    address = models.CharField("地址", max_length=200, blank=True)
    building = models.ForeignKey(
        "territory.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="places"
    )
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)
    grid = models.ForeignKey(
        "territory.Territory", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    path = models.CharField(max_length=15, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "场所/商户"
        verbose_name_plural = "场所/商户"

    def __str__(self) -> str:
        return self.name


class FacilityClass(models.Model):
    """部件分类 (GB/T 30428): 2-digit major + 2-digit minor class codes. Seeded; editable in admin."""

    major = models.CharField("大类代码", max_length=2)
    major_name = models.CharField("大类", max_length=50)
    minor = models.CharField("小类代码", max_length=2)
    name = models.CharField("小类", max_length=50)

    class Meta:
        verbose_name = "部件分类"
        verbose_name_plural = "部件分类"
        constraints = [models.UniqueConstraint(fields=["major", "minor"], name="uniq_facility_class")]
        ordering = ["major", "minor"]

    def __str__(self) -> str:
        return f"{self.major}{self.minor} {self.name}"


class FacilityCondition(models.TextChoices):
    GOOD = "good", "完好"
    DAMAGED = "damaged", "破损"
    MISSING = "missing", "丢失"
    OCCUPIED = "occupied", "占用"


class Facility(models.Model):
    """部件 with a 16-digit code: 6 division + 2 major + 2 minor + 6 serial."""

    code = models.CharField("部件编码", max_length=16, unique=True)
    facility_class = models.ForeignKey(FacilityClass, on_delete=models.PROTECT, verbose_name="分类")
    name = models.CharField("名称", max_length=100, blank=True)
    condition = models.CharField("状态", max_length=16, choices=FacilityCondition.choices, default="good")
    owner_unit = models.CharField("权属单位", max_length=100, blank=True)
    address = models.CharField("位置描述", max_length=200, blank=True)
    lat = models.FloatField("纬度")
    lng = models.FloatField("经度")
    grid = models.ForeignKey(
        "territory.Territory", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    path = models.CharField(max_length=15, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "部件"
        verbose_name_plural = "部件"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class OrganisationKind(models.TextChoices):
    SOCIAL = "social", "社会组织"
    OWNERS_COMMITTEE = "owners_committee", "业主委员会"
    PROPERTY = "property", "物业公司"
    VOLUNTEER = "volunteer", "志愿服务队"


class Organisation(models.Model):
    name = models.CharField("名称", max_length=150)
    kind = models.CharField("类型", max_length=32, choices=OrganisationKind.choices)
    community = models.ForeignKey(
        "territory.Territory", on_delete=models.PROTECT, related_name="+", verbose_name="社区"
    )
    compounds = models.ManyToManyField("territory.Compound", blank=True, related_name="organisations")
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=20, blank=True)
    members_count = models.PositiveIntegerField("成员数", default=0)
    founded = models.DateField("成立日期", null=True, blank=True)
    path = models.CharField(max_length=15, db_index=True)

    class Meta:
        verbose_name = "组织"
        verbose_name_plural = "组织"
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="uniq_org_name")]

    def __str__(self) -> str:
        return self.name
