"""Roles and the permissions each gets by default.

Roles are Django groups, so an installation can change what a role may do in the admin without code;
`roles_sync` (run by migrate) creates missing groups and grants these defaults once.
"""

from django.db import models
from django.utils.translation import gettext_noop


class Role(models.TextChoices):
    DISTRICT_ADMIN = "district_admin", gettext_noop("区级管理员")
    STREET_STAFF = "street_staff", gettext_noop("街道工作人员")
    COMMUNITY_STAFF = "community_staff", gettext_noop("社区工作人员")
    GRID_WORKER = "grid_worker", gettext_noop("网格员")
    DEPT_HANDLER = "dept_handler", gettext_noop("部门处置人员")
    PARTY_MEMBER = "party_member", gettext_noop("党员")
    RESIDENT = "resident", gettext_noop("居民")


STAFF_ROLES = {Role.DISTRICT_ADMIN, Role.STREET_STAFF, Role.COMMUNITY_STAFF, Role.GRID_WORKER}

# Custom permissions (declared on accounts.User Meta) are app_label.codename strings.
P_VIEW_REGISTER = "accounts.view_register"
P_EDIT_REGISTER = "accounts.edit_register"
P_REVEAL_PERSONAL = "accounts.reveal_personal"
P_EXPORT_PERSONAL = "accounts.export_personal"
P_IMPORT_REGISTER = "accounts.import_register"
P_VIEW_AUDIT = "accounts.view_audit"
P_MANAGE_TERRITORY = "accounts.manage_territory"
P_VIEW_TERRITORY = "accounts.view_territory"

CUSTOM_PERMISSIONS = [
    ("view_register", "查看人房信息（脱敏）"),
    ("edit_register", "维护人房信息"),
    ("reveal_personal", "查看完整身份证号/手机号（需说明理由）"),
    ("export_personal", "导出个人信息"),
    ("import_register", "导入台账"),
    ("view_audit", "查看审计日志"),
    ("manage_territory", "维护网格与区划"),
    ("view_territory", "查看网格与区划"),
]

ALL = [p for p, _ in CUSTOM_PERMISSIONS]
DEFAULT_ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.DISTRICT_ADMIN: ALL,
    Role.STREET_STAFF: [
        "view_register",
        "edit_register",
        "reveal_personal",
        "export_personal",
        "import_register",
        "view_audit",
        "view_territory",
    ],
    Role.COMMUNITY_STAFF: [
        "view_register",
        "edit_register",
        "reveal_personal",
        "export_personal",
        "import_register",
        "view_territory",
    ],
    Role.GRID_WORKER: ["view_register", "edit_register", "reveal_personal", "view_territory"],
    Role.DEPT_HANDLER: ["view_territory"],
    Role.PARTY_MEMBER: [],
    Role.RESIDENT: [],
}
