"""Demo accounts with predictable names, all with the demo password (settings.DEMO_PASSWORD).

admin (区级管理员 + Django superuser), street<i> per street, community<i> per community, grid<i> per grid
(in code order, so grid1 and grid2 are the first two grids of community1 = 六合社区), dept1 (城市管理执法),
member1 and resident1 (bound to community1). Each grid gets its worker (grid<i>, 专职网格员) and its
leader (the community's staff account, 网格长) as GridAssignment rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
from django.test.utils import override_settings

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.audit.services import audit_record
from wangge.territory.models import GridAssignment, GridDuty

from .base import VALID_FROM, DemoContext


class _HashOnceArgon2(Argon2PasswordHasher):
    """Argon2 that computes the shared demo password's hash once per run (≈0.1 s a hash × ~80 accounts).

    The stored value is an ordinary Argon2 hash, verified by Django's own hasher; the demo accounts
    share it (and its salt) because they share a password that is printed on the screen anyway.
    """

    done: dict[str, str] = {}

    def encode(self, password: str, salt: str) -> str:
        if password not in self.done:
            self.done[password] = super().encode(password, salt)
        return self.done[password]


@contextmanager
def _hash_once() -> Iterator[None]:
    if get_hasher().algorithm != "argon2":  # tests use a fast hasher already
        yield
        return
    _HashOnceArgon2.done = {}
    with override_settings(PASSWORD_HASHERS=[f"{__name__}._HashOnceArgon2", *settings.PASSWORD_HASHERS]):
        yield
    _HashOnceArgon2.done = {}


def generate(ctx: DemoContext) -> None:
    fake = ctx.faker("accounts")
    password = ctx.password
    users = ctx.users

    def make(username: str, role: Role, node, department: str = ""):
        users[username] = user_create(
            username=username,
            password=password,
            role=role,
            territory_id=node.pk,
            display_name=fake.name(),
            department=department,
        )
        return users[username]

    with _hash_once():
        admin = make("admin", Role.DISTRICT_ADMIN, ctx.district)
        admin.is_superuser = True
        admin.is_staff = True
        admin.save(update_fields=["is_superuser", "is_staff"])
        audit_record(actor=None, action="user.superuser", obj=admin, after={"is_superuser": True})
        for i, street in enumerate(ctx.streets, start=1):
            make(f"street{i}", Role.STREET_STAFF, street)
        community_staff = {}
        for i, community in enumerate(ctx.communities, start=1):
            community_staff[community.pk] = make(f"community{i}", Role.COMMUNITY_STAFF, community)
        assignments = []
        for i, grid in enumerate(ctx.grids, start=1):
            worker = make(f"grid{i}", Role.GRID_WORKER, grid.node)
            assignments.append(
                GridAssignment(grid=grid.node, user=worker, duty=GridDuty.WORKER, since=VALID_FROM)
            )
            assignments.append(
                GridAssignment(
                    grid=grid.node,
                    user=community_staff[grid.community.pk],
                    duty=GridDuty.LEADER,
                    since=VALID_FROM,
                )
            )
        make("dept1", Role.DEPT_HANDLER, ctx.district, department="城市管理执法")
        first = ctx.communities[0]
        make("member1", Role.PARTY_MEMBER, first)
        make("resident1", Role.RESIDENT, first)
    GridAssignment.objects.bulk_create(assignments)
    ctx.counts.update(accounts=len(users), grid_assignments=len(assignments))
