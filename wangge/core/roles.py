"""The role and permission vocabulary every app checks against.

It lives in core (not accounts) so that core's guards and template filters, and audit's pages, can name a
role or a permission without importing an app above them (the layer contract in pyproject.toml). Which
permissions a role gets by default, and the User model that carries them, stay in wangge.accounts.roles,
which re-exports these names.
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


# Custom permissions (declared on accounts.User Meta) are app_label.codename strings.
P_VIEW_REGISTER = "accounts.view_register"
P_EDIT_REGISTER = "accounts.edit_register"
P_REVEAL_PERSONAL = "accounts.reveal_personal"
P_EXPORT_PERSONAL = "accounts.export_personal"
P_IMPORT_REGISTER = "accounts.import_register"
P_VIEW_AUDIT = "accounts.view_audit"
P_MANAGE_TERRITORY = "accounts.manage_territory"
P_VIEW_TERRITORY = "accounts.view_territory"
