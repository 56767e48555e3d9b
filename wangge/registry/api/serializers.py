"""Request and response shapes of the register API.

Input serializers only check types; the services validate (and their errors never echo personal values:
choices are plain strings here for that reason). Output serializers describe the dicts built by
wangge.registry.display, the one place where personal values are masked.
"""

from rest_framework import serializers

# --- input -------------------------------------------------------------------------------------------


class ResidentWrite(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    id_number = serializers.CharField(max_length=32, help_text="18位身份证号码；出生日期和性别由号码推出")
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    dwelling = serializers.IntegerField(required=False, allow_null=True, help_text="现住房屋 id")
    building = serializers.IntegerField(required=False, allow_null=True, help_text="无房屋时：楼栋 id")
    grid = serializers.IntegerField(required=False, allow_null=True, help_text="无房屋和楼栋时：网格 id")
    household_role = serializers.CharField(required=False, allow_blank=True)
    residence_type = serializers.CharField(required=False)
    ethnicity = serializers.CharField(required=False, allow_blank=True, max_length=16)
    is_party_member = serializers.BooleanField(required=False)
    health_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, help_text="人工标签代码（kind=set）"
    )
    relation = serializers.CharField(required=False, help_text="owner/tenant/lives/registered")
    moved_in = serializers.DateField(required=False, help_text="迁入日期（默认今天）")


class ResidentUpdate(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=50)
    id_number = serializers.CharField(required=False, max_length=32)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    dwelling = serializers.IntegerField(
        required=False, allow_null=True, help_text="新房屋 id（今天迁入）；null 表示今天迁出"
    )
    building = serializers.IntegerField(required=False, allow_null=True)
    grid = serializers.IntegerField(required=False, allow_null=True)
    household_role = serializers.CharField(required=False, allow_blank=True)
    residence_type = serializers.CharField(required=False)
    ethnicity = serializers.CharField(required=False, allow_blank=True, max_length=16)
    is_party_member = serializers.BooleanField(required=False)
    health_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    tags = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    status = serializers.CharField(required=False, help_text="active/moved_out/deceased")


class ResidentSearch(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="姓名片段，或完整身份证号/手机号（精确匹配）"
    )
    tag = serializers.CharField(required=False, allow_blank=True, default="")
    path = serializers.CharField(required=False, allow_blank=True, default="")


class RevealRequest(serializers.Serializer):
    field = serializers.CharField(help_text="id_number / phone / health_notes")
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text="查看理由（至少4个字，记入审计）",
    )


class RevealResponse(serializers.Serializer):
    value = serializers.CharField()


class MoveIn(serializers.Serializer):
    dwelling = serializers.IntegerField()
    relation = serializers.CharField(required=False, default="lives")
    on = serializers.DateField()


class MoveOut(serializers.Serializer):
    on = serializers.DateField()


class BuildingWrite(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    compound = serializers.IntegerField(required=False, allow_null=True)
    grid = serializers.IntegerField(required=False, allow_null=True, help_text="坐标不在任何网格内时使用")
    lat = serializers.FloatField(required=False, allow_null=True)
    lng = serializers.FloatField(required=False, allow_null=True)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    # Column bounds: PositiveSmallIntegerField, SmallIntegerField, PositiveIntegerField (core/bounds.py).
    floors = serializers.IntegerField(required=False, min_value=1, max_value=32767)
    units = serializers.IntegerField(required=False, min_value=1, max_value=32767)
    use = serializers.CharField(required=False, allow_blank=True, max_length=32)


class BuildingUpdate(BuildingWrite):
    code = None  # type: ignore[assignment]
    name = serializers.CharField(required=False, max_length=100)


class DwellingWrite(serializers.Serializer):
    building = serializers.IntegerField()
    unit = serializers.CharField(required=False, allow_blank=True, max_length=16)
    room = serializers.CharField(max_length=16)
    floor = serializers.IntegerField(required=False, allow_null=True, min_value=-32768, max_value=32767)
    use = serializers.CharField(required=False, help_text="self/rented/vacant/shop")
    area_m2 = serializers.FloatField(required=False, allow_null=True)


class DwellingUpdate(DwellingWrite):
    building = None  # type: ignore[assignment]
    room = serializers.CharField(required=False, max_length=16)


class PlaceWrite(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    credit_code = serializers.CharField(required=False, allow_blank=True, max_length=32)
    kind = serializers.CharField(required=False, allow_blank=True, max_length=50)
    licence_status = serializers.CharField(required=False, help_text="valid/expired/none")
    operator_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    building = serializers.IntegerField(required=False, allow_null=True)
    grid = serializers.IntegerField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    lng = serializers.FloatField(required=False, allow_null=True)


class PlaceUpdate(PlaceWrite):
    name = serializers.CharField(required=False, max_length=150)


class FacilityWrite(serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="16位：6位区划+2位大类+2位小类+6位序号")
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    condition = serializers.CharField(required=False, help_text="good/damaged/missing/occupied")
    owner_unit = serializers.CharField(required=False, allow_blank=True, max_length=100)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    grid = serializers.IntegerField(required=False, allow_null=True)


class FacilityUpdate(FacilityWrite):
    code = None  # type: ignore[assignment]
    lat = serializers.FloatField(required=False)
    lng = serializers.FloatField(required=False)


class OrganisationWrite(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    kind = serializers.CharField(help_text="social/owners_committee/property/volunteer")
    community = serializers.IntegerField()
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    members_count = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    founded = serializers.DateField(required=False, allow_null=True)
    compounds = serializers.ListField(child=serializers.IntegerField(), required=False)


class OrganisationUpdate(OrganisationWrite):
    community = None  # type: ignore[assignment]
    name = serializers.CharField(required=False, max_length=150)
    kind = serializers.CharField(required=False)


# --- output (shapes of wangge.registry.display dicts) ----------------------------------------------


class Tag(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    colour = serializers.CharField()


class Ref(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]


class ResidentRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    id_number = serializers.CharField(help_text="脱敏")
    phone = serializers.CharField(help_text="脱敏")
    age = serializers.IntegerField(allow_null=True)
    sex = serializers.CharField()
    sex_label = serializers.CharField()
    ethnicity = serializers.CharField()
    household_role = serializers.CharField()
    household_role_label = serializers.CharField()
    residence_type = serializers.CharField()
    residence_type_label = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    tags = Tag(many=True)
    building = Ref(allow_null=True)
    dwelling = Ref(allow_null=True)
    path = serializers.CharField()


class OccupancyRow(serializers.Serializer):
    id = serializers.IntegerField()
    dwelling = Ref()
    relation = serializers.CharField()
    relation_label = serializers.CharField()
    moved_in = serializers.DateField()
    moved_out = serializers.DateField(allow_null=True)


class ResidentCard(ResidentRow):
    is_party_member = serializers.BooleanField()
    has_health_notes = serializers.BooleanField()
    has_phone = serializers.BooleanField()
    birth_year = serializers.IntegerField(allow_null=True)
    occupancies = OccupancyRow(many=True)


class BuildingRow(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    grid_id = serializers.IntegerField(allow_null=True)
    address = serializers.CharField()
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    floors = serializers.IntegerField()
    units = serializers.IntegerField()
    use = serializers.CharField()
    path = serializers.CharField()


class Plate(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    colour = serializers.CharField()
    residents = serializers.IntegerField()
    households = serializers.IntegerField()


class CardDwelling(serializers.Serializer):
    id = serializers.IntegerField()
    unit = serializers.CharField()
    room = serializers.CharField()
    floor = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]
    use = serializers.CharField()
    use_label = serializers.CharField()
    area_m2 = serializers.FloatField(allow_null=True)
    occupants = ResidentRow(many=True)
    plates = Tag(many=True)


class BuildingCard(serializers.Serializer):
    building = BuildingRow()
    compound = serializers.DictField(allow_null=True)
    grid = serializers.DictField(allow_null=True)
    dwellings = CardDwelling(many=True)
    plates = Plate(many=True)
    dwelling_count = serializers.IntegerField()
    resident_count = serializers.IntegerField()


class DwellingRow(serializers.Serializer):
    id = serializers.IntegerField()
    building_id = serializers.IntegerField()
    building = serializers.CharField()
    unit = serializers.CharField()
    room = serializers.CharField()
    floor = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]
    use = serializers.CharField()
    use_label = serializers.CharField()
    area_m2 = serializers.FloatField(allow_null=True)
    path = serializers.CharField()


class DwellingDetail(DwellingRow):
    occupants = ResidentRow(many=True)


class PlaceRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    credit_code = serializers.CharField()
    licence_status = serializers.CharField()
    licence_status_label = serializers.CharField()
    operator_name = serializers.CharField()
    phone = serializers.CharField(help_text="脱敏")
    address = serializers.CharField()
    building_id = serializers.IntegerField(allow_null=True)
    grid_id = serializers.IntegerField(allow_null=True)
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    path = serializers.CharField()


class FacilityRow(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    major = serializers.CharField()
    major_name = serializers.CharField()
    minor = serializers.CharField()
    class_name = serializers.CharField()
    condition = serializers.CharField()
    condition_label = serializers.CharField()
    owner_unit = serializers.CharField()
    address = serializers.CharField()
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    grid_id = serializers.IntegerField(allow_null=True)
    path = serializers.CharField()


class OrganisationRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    community_id = serializers.IntegerField()
    compound_ids = serializers.ListField(child=serializers.IntegerField())
    contact_name = serializers.CharField()
    contact_phone = serializers.CharField()
    members_count = serializers.IntegerField()
    founded = serializers.DateField(allow_null=True)
    path = serializers.CharField()


class KeyGroupRow(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    min_age = serializers.IntegerField(allow_null=True)
    max_age = serializers.IntegerField(allow_null=True)
    colour = serializers.CharField()
    sensitive = serializers.BooleanField()


class KeyGroupCount(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    colour = serializers.CharField()
    count = serializers.IntegerField()
