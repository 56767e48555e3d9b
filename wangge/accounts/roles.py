"""Roles and the permissions each gets by default.

Roles are Django groups, so an installation can change what a role may do in the admin without code;
`roles_sync` (run by migrate) creates missing groups and grants these defaults once.
"""

# Role and the permission strings live in wangge.core.roles (core and audit check them too); they are
# re-exported here, beside the defaults that give them meaning.
from wangge.core.roles import P_EDIT_REGISTER as P_EDIT_REGISTER
from wangge.core.roles import P_EXPORT_PERSONAL as P_EXPORT_PERSONAL
from wangge.core.roles import P_IMPORT_REGISTER as P_IMPORT_REGISTER
from wangge.core.roles import P_MANAGE_TERRITORY as P_MANAGE_TERRITORY
from wangge.core.roles import P_REVEAL_PERSONAL as P_REVEAL_PERSONAL
from wangge.core.roles import P_VIEW_AUDIT as P_VIEW_AUDIT
from wangge.core.roles import P_VIEW_REGISTER as P_VIEW_REGISTER
from wangge.core.roles import P_VIEW_TERRITORY as P_VIEW_TERRITORY
from wangge.core.roles import Role as Role

STAFF_ROLES = {Role.DISTRICT_ADMIN, Role.STREET_STAFF, Role.COMMUNITY_STAFF, Role.GRID_WORKER}

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
