"""Writes for the territory tree. Every write is audited in the same transaction."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from wangge.accounts.roles import P_MANAGE_TERRITORY
from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.core.scope import path_in_scope

from . import hooks, locator
from .geometry import area_m2, geometry_from_geojson, to_geojson
from .models import (
    CODE_LENGTH,
    PARENT_LEVEL,
    GeometryVersion,
    GridAssignment,
    GridBoundary,
    GridDuty,
    GridRedraw,
    GridType,
    Level,
    Territory,
)
from .redraw import Placer, Repath


def geometry_version_bump() -> None:
    """Tell every process that grid geometry changed (they rebuild their STRtree on next use)."""
    updated = GeometryVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        GeometryVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    # This process forgets its index now and again after commit; other processes notice the version.
    locator.invalidate()
    transaction.on_commit(locator.invalidate)


def territory_create(
    *,
    level: str,
    code: str,
    name: str,
    parent: Territory | None = None,
    grid_type: str = "",
    valid_from: date | None = None,
    actor: Any = None,
) -> Territory:
    """Create a district, street, community or grid node; the code must extend its parent's code."""
    if level not in Level.values:
        raise InvalidInput("层级无效", code="invalid_level")
    lvl = Level(level)
    if not code.isdigit() or len(code) != CODE_LENGTH[lvl]:
        raise InvalidInput(f"{lvl.label}编码须为 {CODE_LENGTH[lvl]} 位数字", code="invalid_code")
    if not name.strip():
        raise InvalidInput("名称不能为空", code="invalid_name")
    if lvl == Level.DISTRICT:
        if parent is not None:
            raise InvalidInput("区不能有上级", code="invalid_parent")
    else:
        if parent is None or parent.level != PARENT_LEVEL[lvl]:
            raise InvalidInput(f"{lvl.label}的上级必须是{PARENT_LEVEL[lvl].label}", code="invalid_parent")
        if not code.startswith(parent.code):
            raise InvalidInput("编码必须以上级编码开头", code="invalid_code")
    if lvl == Level.GRID:
        grid_type = grid_type or GridType.BASIC
        if grid_type not in GridType.values:
            raise InvalidInput("网格类型无效", code="invalid_grid_type")
    elif grid_type:
        raise InvalidInput("只有网格有网格类型", code="invalid_grid_type")
    with transaction.atomic():
        if Territory.objects.filter(code=code).exists():
            raise InvalidInput(f"编码 {code} 已存在", code="duplicate_code")
        node = Territory.objects.create(
            level=lvl, code=code, name=name.strip(), parent=parent, grid_type=grid_type, valid_from=valid_from
        )
        audit_record(
            actor=actor,
            action="territory.create",
            obj=node,
            after={"code": code, "name": node.name, "level": level, "grid_type": grid_type},
        )
    return node


def grid_boundary_set(*, grid: Territory, geojson: Any, valid_from: date, actor: Any = None) -> GridBoundary:
    """Give `grid` a boundary from `valid_from` on, closing the boundary that was valid before.

    Only the geometry history changes here; moving objects to their new grid is grid_redraw's job.
    """
    if grid.level != Level.GRID:
        raise InvalidInput("只有网格有边界", code="not_a_grid")
    geom = geometry_from_geojson(geojson)
    minx, miny, maxx, maxy = geom.bounds
    with transaction.atomic():
        current = GridBoundary.objects.filter(grid=grid, valid_to__isnull=True).first()
        if current is not None:
            if valid_from <= current.valid_from:
                raise InvalidInput("新边界的生效日期必须晚于现有边界", code="invalid_date")
            current.valid_to = valid_from
            current.save(update_fields=["valid_to"])
        boundary = GridBoundary.objects.create(
            grid=grid,
            geojson=to_geojson(geom),
            min_lng=minx,
            min_lat=miny,
            max_lng=maxx,
            max_lat=maxy,
            area_m2=area_m2(geom),
            valid_from=valid_from,
        )
        geometry_version_bump()
        audit_record(
            actor=actor,
            action="grid.boundary",
            obj=grid,
            after={"valid_from": valid_from.isoformat(), "area_m2": round(boundary.area_m2, 1)},
        )
    return boundary


def grid_create(
    *,
    community: Territory,
    code: str,
    name: str,
    geojson: Any,
    valid_from: date,
    grid_type: str = GridType.BASIC,
    actor: Any = None,
) -> Territory:
    """Create a grid with its first boundary."""
    with transaction.atomic():
        grid = territory_create(
            level=Level.GRID,
            code=code,
            name=name,
            parent=community,
            grid_type=grid_type,
            valid_from=valid_from,
            actor=actor,
        )
        grid_boundary_set(grid=grid, geojson=geojson, valid_from=valid_from, actor=actor)
    return grid


# --- redraws (split, merge, new boundary) ------------------------------------------------------------


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _check_actor(actor: Any, community: Territory) -> None:
    if actor is None:
        return
    if not path_in_scope(actor, community.code):
        raise NotFound("未找到该社区", code="not_found")
    if not actor.has_perm(P_MANAGE_TERRITORY):
        raise Forbidden("没有维护网格与区划的权限", code="permission_denied")


def _parse_geometry(code: str, geojson: Any) -> BaseGeometry:
    try:
        return geometry_from_geojson(geojson)
    except InvalidInput as exc:
        raise InvalidInput(f"网格 {code}：{exc.message}", code=exc.code, details={"code": code})


def _check_overlaps(changed: dict[str, BaseGeometry], siblings: dict[str, BaseGeometry]) -> None:
    """Refuse changed grids that overlap each other or a remaining sibling by more than 1 m²."""
    from .coverage import MIN_AREA_M2, analyse_siblings

    items = sorted({**siblings, **changed}.items())
    overlaps, _ = analyse_siblings(items)
    bad = [o for o in overlaps if o.codes[0] in changed or o.codes[1] in changed]
    bad = [o for o in bad if o.area_m2 > MIN_AREA_M2]
    if bad:
        text = "；".join(f"{o.codes[0]} 与 {o.codes[1]} 重叠 {o.area_m2:.1f} 平方米" for o in bad)
        raise InvalidInput(
            f"网格边界重叠：{text}", code="grid_overlap", details={"overlaps": [o.as_dict() for o in bad]}
        )


def _repath(
    *, community: Territory, changed_codes: set[str], placer: Placer, retired: list[Territory]
) -> dict[str, Any]:
    """Move buildings (and what hangs on them), compounds, and whatever the apps above territory registered
    (residents, occupancies, places, facilities, party groups: territory.hooks)."""
    from wangge.accounts.models import User

    from .models import Building, Compound, Dwelling

    run = Repath(community=community, changed_codes=changed_codes, placer=placer)
    followers = hooks.redraw_followers()

    # Buildings, then dwellings and whatever the followers hang on them.
    groups: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for pk, old, grid_id, lng, lat in Building.objects.filter(run.in_changed).values_list(
        "pk", "path", "grid_id", "lng", "lat"
    ):
        grid = placer.place(lng=lng, lat=lat, old_grid_id=grid_id)
        target = run.record("building", pk, old, grid)
        if target is None and grid_id != (grid.pk if grid else None):
            target = (grid.pk if grid else None, placer.path_of(grid))  # same path, other grid row
        if target is not None:
            run.building_target[pk] = target
            groups[target].append(pk)
    for (target_grid_id, path), ids in groups.items():
        for chunk in _chunks(ids):
            Building.objects.filter(pk__in=chunk).update(grid_id=target_grid_id, path=path)
            run.counts["dwelling"] += Dwelling.objects.filter(building_id__in=chunk).update(path=path)
            for follower in followers:
                if follower.on_buildings is not None:
                    moved = follower.on_buildings(
                        building_ids=chunk, path=path, grid_id=target_grid_id, community=community
                    )
                    for kind, n in moved.items():
                        run.counts[kind] += n

    # Compounds: the one grid all their buildings are in, else the community.
    compound_ids = set(Compound.objects.filter(run.in_changed).values_list("pk", flat=True))
    compound_ids |= set(
        Building.objects.filter(pk__in=list(run.building_target), compound__isnull=False).values_list(
            "compound_id", flat=True
        )
    )
    grids_of: dict[int, set[int | None]] = defaultdict(set)
    for cid, gid in Building.objects.filter(compound_id__in=compound_ids).values_list(
        "compound_id", "grid_id"
    ):
        grids_of[cid].add(gid)
    for compound in Compound.objects.filter(pk__in=compound_ids):
        grid_ids = grids_of.get(compound.pk)
        if grid_ids:
            only = next(iter(grid_ids)) if len(grid_ids) == 1 else None
            grid = placer.by_id.get(only) if only is not None else None
        else:
            grid = placer.place(lng=None, lat=None, old_grid_id=compound.grid_id)
        target = run.record("compound", compound.pk, compound.path, grid)
        if target is not None or compound.grid_id != (grid.pk if grid else None):
            Compound.objects.filter(pk=compound.pk).update(grid=grid, path=placer.path_of(grid))

    # Objects placed by their own coordinates or old grid (residents without a home, places, facilities).
    for follower in followers:
        if follower.after_buildings is not None:
            follower.after_buildings(run)

    attention: dict[str, Any] = {"users_on_retired_grids": User.objects.filter(territory__in=retired).count()}
    for follower in followers:
        if follower.attention is not None:
            attention.update(follower.attention(retired))
    return run.moved(attention)


REDRAW_KINDS = (GridRedraw.Kind.SPLIT, GridRedraw.Kind.MERGE, GridRedraw.Kind.RESHAPE, GridRedraw.Kind.CREATE)


def grid_redraw(
    *,
    kind: str,
    effective_date: date,
    retire_codes: list[str] | tuple[str, ...] = (),
    new_grids: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    reshape: dict[str, Any] | None = None,
    actor: Any = None,
    note: str = "",
) -> GridRedraw:
    """Split, merge, reshape or add grids of one community, effective `effective_date` (today or earlier).

    Retired grids and their boundaries end on `effective_date`; new grids and new boundaries start on it.
    Every building (with its dwellings, residents, occupancies, building party groups), compound, place and
    facility of the changed grids is re-pathed in the same transaction; the old → new paths are kept in
    GridRedraw.moved so history can be read back (selectors.path_on). Future dates are refused: the redraw
    must be run on (or after) the day it takes effect, so nothing moves early.
    """
    reshape = dict(reshape or {})
    retire_codes = list(dict.fromkeys(retire_codes))
    new_grids = list(new_grids)
    if kind not in GridRedraw.Kind.values:
        raise InvalidInput("调整类型无效（可选：拆分、合并、调整边界、新建）", code="invalid_kind")
    shape_rules = {
        GridRedraw.Kind.SPLIT: (
            len(retire_codes) == 1 and len(new_grids) >= 2,
            "拆分须停用 1 个网格并新建至少 2 个网格",
        ),
        GridRedraw.Kind.MERGE: (
            len(retire_codes) >= 2 and len(new_grids) == 1,
            "合并须停用至少 2 个网格并新建 1 个网格",
        ),
        GridRedraw.Kind.RESHAPE: (
            not retire_codes and not new_grids and bool(reshape),
            "调整边界须给出新的边界",
        ),
        GridRedraw.Kind.CREATE: (not retire_codes and bool(new_grids), "新建须给出至少 1 个新网格"),
    }
    ok, message = shape_rules[GridRedraw.Kind(kind)]
    if not ok:
        raise InvalidInput(message, code="invalid_redraw")
    if not isinstance(effective_date, date):
        raise InvalidInput("生效日期无效", code="invalid_date")
    if effective_date > timezone.localdate():
        raise InvalidInput(
            "生效日期不能晚于今天：请在生效当日执行网格调整，以免对象提前迁移", code="future_effective_date"
        )
    overlap = set(retire_codes) & set(reshape)
    if overlap:
        raise InvalidInput(f"网格 {'、'.join(sorted(overlap))} 不能同时停用和调整边界", code="invalid_redraw")
    for spec in new_grids:
        if not isinstance(spec, dict) or not spec.get("code") or not spec.get("name"):
            raise InvalidInput("新网格须有编码和名称", code="invalid_redraw")
    new_codes = [str(spec["code"]) for spec in new_grids]
    if len(set(new_codes)) != len(new_codes):
        raise InvalidInput("新网格编码重复", code="duplicate_code")

    with transaction.atomic():
        touched_codes = retire_codes + list(reshape)
        touched = {
            g.code: g
            for g in Territory.objects.select_for_update().filter(code__in=touched_codes, level=Level.GRID)
        }
        # Grids outside the caller's territory are reported exactly like grids that do not exist.
        missing = [
            c
            for c in touched_codes
            if c not in touched or (actor is not None and not path_in_scope(actor, c))
        ]
        if missing:
            raise NotFound(f"网格 {'、'.join(missing)} 不存在", code="not_found")
        stopped = [c for c, g in touched.items() if g.valid_to is not None]
        if stopped:
            raise InvalidInput(f"网格 {'、'.join(sorted(stopped))} 已停用", code="grid_retired")
        parent_ids = {g.parent_id for g in touched.values()}
        parent_codes = {c[: CODE_LENGTH[Level.COMMUNITY]] for c in new_codes}
        communities = list(
            Territory.objects.filter(Q(pk__in=parent_ids) | Q(code__in=parent_codes), level=Level.COMMUNITY)
        )
        if (
            len(communities) != 1
            or (parent_codes and communities[0].code not in parent_codes)
            or len(parent_codes) > 1
        ):
            raise InvalidInput(
                "一次网格调整只能在同一个社区内进行，新网格编码须以社区编码开头", code="cross_community"
            )
        community = communities[0]
        _check_actor(actor, community)

        open_bounds = {
            b.grid_id: b
            for b in GridBoundary.objects.filter(
                grid__parent=community, grid__level=Level.GRID, valid_to__isnull=True
            )
        }
        for code, grid in touched.items():
            current = open_bounds.get(grid.pk)
            if (current is not None and current.valid_from >= effective_date) or (
                grid.valid_from is not None and grid.valid_from >= effective_date
            ):
                raise InvalidInput(f"网格 {code} 的生效日期须晚于其现有边界的生效日期", code="invalid_date")

        changed = {code: _parse_geometry(code, gj) for code, gj in reshape.items()}
        changed.update(
            {str(spec["code"]): _parse_geometry(str(spec["code"]), spec.get("geojson")) for spec in new_grids}
        )
        siblings = {}
        for grid in Territory.objects.filter(parent=community, level=Level.GRID, valid_to__isnull=True):
            if grid.code in touched or grid.pk not in open_bounds:
                continue
            siblings[grid.code] = shape(open_bounds[grid.pk].geojson)
        _check_overlaps(changed, siblings)

        # Retire: the grid, its boundary and its staff assignments end on the effective date.
        retired = [touched[c] for c in retire_codes]
        last_day = effective_date - timedelta(days=1)
        for grid in retired:
            grid.valid_to = effective_date
            grid.save(update_fields=["valid_to"])
            GridBoundary.objects.filter(grid=grid, valid_to__isnull=True).update(valid_to=effective_date)
            for assignment in GridAssignment.objects.filter(grid=grid, until__isnull=True):
                assignment.until = max(last_day, assignment.since)
                assignment.save(update_fields=["until"])
            audit_record(
                actor=actor, action="grid.retire", obj=grid, after={"valid_to": effective_date.isoformat()}
            )
        created = [
            grid_create(
                community=community,
                code=str(spec["code"]),
                name=str(spec["name"]),
                geojson=spec.get("geojson"),
                valid_from=effective_date,
                grid_type=spec.get("grid_type") or GridType.BASIC,
                actor=actor,
            )
            for spec in new_grids
        ]
        for code, gj in reshape.items():
            grid_boundary_set(grid=touched[code], geojson=gj, valid_from=effective_date, actor=actor)

        after = [(touched[c], changed[c]) for c in reshape]
        after += [(g, changed[g.code]) for g in created]
        remaining = Territory.objects.filter(code__in=list(siblings))
        after += [(g, siblings[g.code]) for g in remaining]
        placer = Placer(
            community=community,
            after=after,
            retired=retired,
            merged_into=created[0] if kind == GridRedraw.Kind.MERGE else None,
        )
        moved = _repath(
            community=community,
            changed_codes=set(touched_codes) | set(new_codes),
            placer=placer,
            retired=retired,
        )
        redraw = GridRedraw.objects.create(
            kind=kind,
            effective_date=effective_date,
            old_codes=touched_codes,
            new_codes=new_codes + list(reshape),
            moved=moved,
            path=community.code,
            note=note[:500],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        geometry_version_bump()
        audit_record(
            actor=actor,
            action="grid.redraw",
            obj=redraw,
            after={
                "kind": kind,
                "effective_date": effective_date.isoformat(),
                "old_codes": touched_codes,
                "new_codes": redraw.new_codes,
                "counts": moved["counts"],
            },
            reason=note,
        )
    return redraw


# --- staff ---------------------------------------------------------------------------------------------


def grid_assign_staff(
    *, grid: Territory, user: Any, duty: str = GridDuty.WORKER, since: date, actor: Any = None
) -> GridAssignment:
    """Assign `user` to `grid` with a duty (专职/兼职网格员, 网格长) from `since` on."""
    if grid.level != Level.GRID or grid.valid_to is not None:
        raise InvalidInput("只能给在用的网格配置人员", code="not_a_grid")
    if duty not in GridDuty.values:
        raise InvalidInput("职责无效（可选：专职网格员、兼职网格员、网格长）", code="invalid_duty")
    if actor is not None:
        if not path_in_scope(actor, grid.code):
            raise NotFound("未找到该网格", code="not_found")
        if not actor.has_perm(P_MANAGE_TERRITORY):
            raise Forbidden("没有维护网格与区划的权限", code="permission_denied")
    with transaction.atomic():
        exists = GridAssignment.objects.filter(grid=grid, user=user, duty=duty).filter(
            Q(until__isnull=True) | Q(until__gte=since)
        )
        if exists.exists():
            raise Conflict("该人员已在此网格担任该职责", code="already_assigned")
        assignment = GridAssignment.objects.create(grid=grid, user=user, duty=duty, since=since)
        audit_record(
            actor=actor,
            action="grid.staff_assign",
            obj=assignment,
            path=grid.code,
            object_repr=f"{grid.code} {user.get_username()}",
            after={"grid": grid.code, "user": user.get_username(), "duty": duty, "since": since.isoformat()},
        )
    return assignment


def grid_unassign_staff(
    *, grid: Territory, user: Any, until: date, duty: str | None = None, actor: Any = None
) -> int:
    """End `user`'s open assignments on `grid` (one duty or all) on `until` (last day served)."""
    if actor is not None:
        if not path_in_scope(actor, grid.code):
            raise NotFound("未找到该网格", code="not_found")
        if not actor.has_perm(P_MANAGE_TERRITORY):
            raise Forbidden("没有维护网格与区划的权限", code="permission_denied")
    with transaction.atomic():
        qs = GridAssignment.objects.select_for_update().filter(grid=grid, user=user, until__isnull=True)
        if duty:
            qs = qs.filter(duty=duty)
        assignments = list(qs)
        if not assignments:
            raise NotFound("该人员在此网格没有在岗记录", code="not_assigned")
        for assignment in assignments:
            if until < assignment.since:
                raise InvalidInput("结束日期不能早于起始日期", code="invalid_date")
            assignment.until = until
            assignment.save(update_fields=["until"])
        audit_record(
            actor=actor,
            action="grid.staff_unassign",
            path=grid.code,
            object_type="territory.gridassignment",
            object_id=",".join(str(a.pk) for a in assignments),
            object_repr=f"{grid.code} {user.get_username()}",
            after={"grid": grid.code, "user": user.get_username(), "until": until.isoformat()},
        )
    return len(assignments)
