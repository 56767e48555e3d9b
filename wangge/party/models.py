"""Party organisation tree tied to territory (T2) and member units of the big party committee (T3)."""

from django.db import models


class OrgLevel(models.TextChoices):
    COMMUNITY_COMMITTEE = "committee", "社区党委/大党委"
    GRID_BRANCH = "branch", "网格党支部"
    BUILDING_GROUP = "group", "楼栋党小组"
    CENTRE_HOUSEHOLD = "household", "党员中心户"


CHILD_LEVEL = {
    OrgLevel.COMMUNITY_COMMITTEE: OrgLevel.GRID_BRANCH,
    OrgLevel.GRID_BRANCH: OrgLevel.BUILDING_GROUP,
    OrgLevel.BUILDING_GROUP: OrgLevel.CENTRE_HOUSEHOLD,
}


class PartyOrg(models.Model):
    name = models.CharField("名称", max_length=150)
    level = models.CharField("层级", max_length=16, choices=OrgLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    territory = models.ForeignKey(
        "territory.Territory",
        on_delete=models.PROTECT,
        related_name="party_orgs",
        verbose_name="对应区划/网格",
    )
    building = models.ForeignKey(
        "territory.Building", null=True, blank=True, on_delete=models.PROTECT, related_name="party_orgs"
    )
    dwelling = models.ForeignKey(
        "territory.Dwelling", null=True, blank=True, on_delete=models.PROTECT, related_name="party_orgs"
    )
    secretary = models.CharField("书记/负责人", max_length=50, blank=True)
    members_count = models.PositiveIntegerField("党员数", default=0)
    path = models.CharField(max_length=15, db_index=True)

    class Meta:
        verbose_name = "党组织"
        verbose_name_plural = "党组织"
        ordering = ["path", "level", "id"]

    def __str__(self) -> str:
        return self.name


class MemberUnitKind(models.TextChoices):
    GOVERNMENT = "government", "机关单位"
    INSTITUTION = "institution", "事业单位"
    ENTERPRISE = "enterprise", "国有企业"
    PRIVATE = "private", "非公企业"
    SCHOOL = "school", "学校"
    HOSPITAL = "hospital", "医院"
    OTHER = "other", "其他"


class MemberUnit(models.Model):
    """驻区单位/共建单位 of a community's big party committee, with its responsibility zone."""

    name = models.CharField("单位名称", max_length=150)
    kind = models.CharField(
        "类型", max_length=16, choices=MemberUnitKind.choices, default=MemberUnitKind.OTHER
    )
    community = models.ForeignKey(
        "territory.Territory",
        on_delete=models.PROTECT,
        related_name="member_units",
        verbose_name="所属社区大党委",
    )
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=20, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    zones = models.ManyToManyField(
        "territory.Territory", blank=True, related_name="responsible_units", verbose_name="责任片区"
    )
    responsibility = models.TextField("责任内容", blank=True)
    path = models.CharField(max_length=15, db_index=True)

    class Meta:
        verbose_name = "成员单位"
        verbose_name_plural = "成员单位"
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="uniq_member_unit")]

    def __str__(self) -> str:
        return self.name
