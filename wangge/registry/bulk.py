"""Bulk writes to the registers: validate row by row, upsert by natural key in chunks.

Each `<entity>_bulk_upsert` takes an iterable of (row number, {column key: cell value}) — the keys are
those of wangge.exchange.columns — and returns a BulkResult with the counts and every row error.
Rows are processed in chunks of CHUNK_SIZE; each chunk is one transaction holding its rows, the
dwellings, occupancies and tags they need, and one audit row listing the ids it created and updated
(never personal values). Per chunk the look-ups are batched (buildings, dwellings, existing natural
keys), so the number of queries does not grow with the number of rows.

`columns` names the columns present in the file: absent columns leave existing values untouched;
present but empty cells clear them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import connections, router, transaction
from django.db.models import DateField, DateTimeField, Field, Model
from django.utils import timezone
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.errors import InvalidInput
from wangge.core.masking import mask_id_number, mask_phone
from wangge.territory.models import Building, Compound, Dwelling, DwellingUse, Level, Territory

from .models import (
    Facility,
    FacilityClass,
    FacilityCondition,
    HouseholdRole,
    KeyGroup,
    LicenceStatus,
    Occupancy,
    OccupancyRelation,
    Place,
    ResidenceType,
    Resident,
    ResidentStatus,
)
from .validation import PROVINCES, IdInfo, normalise_phone, parse_id_number

CHUNK_SIZE = 2000
MAX_KEPT_ERRORS = 100_000  # errors beyond this are counted, not kept (the report says so)

RowIn = tuple[int, dict[str, Any]]


@dataclass
class RowError:
    row: int
    column: str  # column key ("" = the whole row)
    value: str  # already masked for personal columns
    message: str


@dataclass
class BulkResult:
    processed: int = 0
    created: int = 0
    updated: int = 0
    error_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    chunks: int = 0

    def add_error(self, err: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(err)


class RowInvalid(Exception):
    def __init__(self, column: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.column, self.value, self.message = column, value, message


# --- cell parsing ----------------------------------------------------------------------------------

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SPLIT_TAGS = re.compile(r"[、,，;；/\s]+")


_BLANKS = " \t\r\n\u3000\ufeff\xa0"


def text(value: Any) -> str:
    """A cell as stripped text (integral floats without '.0', dates ISO)."""
    if value.__class__ is str:
        return value.strip(_BLANKS)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip(_BLANKS)


def parse_date(value: Any, column: str, *, today: dt.date) -> dt.date | None:
    """2024-01-05, 2024/1/5, 2024.1.5, 2024年1月5日, 20240105, Excel date cells and serial numbers."""
    if value is None or value == "":
        return None
    day: dt.date | None = None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel serial day numbers (1900 date system)
            day = _EXCEL_EPOCH + dt.timedelta(days=int(value))
            if 19000101 <= value <= 29991231:  # 20240105 typed as a number
                day = None
                value = str(int(value))
    if day is None:
        s = text(value)
        if not s:
            return None
        m = _DATE_RE.match(s) or _COMPACT_DATE.match(s)
        if not m:
            raise RowInvalid(column, s, "日期格式无法识别（应为 2024-01-05、2024/1/5 或 2024年1月5日）")
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise RowInvalid(column, s, "日期不存在（请检查月份和日期）")
    if day.year < 1900 or day > today:
        raise RowInvalid(column, text(value), "日期不合理（早于1900年或晚于今天）")
    return day


def parse_float(value: Any, column: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    s = text(value)
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        raise RowInvalid(column, s, "应为数字")


def parse_int(value: Any, column: str, *, low: int, high: int) -> int | None:
    f = parse_float(value, column)
    if f is None:
        return None
    if not f.is_integer() or not low <= f <= high:
        raise RowInvalid(column, text(value), f"应为 {low} 到 {high} 之间的整数")
    return int(f)


def parse_coords(row: dict[str, Any], *, required: bool) -> tuple[float | None, float | None]:
    lng = parse_float(row.get("lng"), "lng")
    lat = parse_float(row.get("lat"), "lat")
    if lng is None and lat is None:
        if required:
            raise RowInvalid("lng", "", "经纬度不能为空")
        return None, None
    if lng is None or lat is None:
        raise RowInvalid("lng" if lng is None else "lat", "", "经度和纬度须同时填写")
    if 3 <= lng <= 54 and 73 <= lat <= 136:
        raise RowInvalid("lng", text(row.get("lng")), "经纬度似乎填反了（经度约 73~136，纬度约 3~54）")
    if not (73 <= lng <= 136 and 3 <= lat <= 54):
        raise RowInvalid("lng", text(row.get("lng")), "经纬度超出中国范围（应为 WGS-84 经度、纬度）")
    return lng, lat


def _choice_table(choices: Any, extra: dict[str, str]) -> dict[str, str]:
    table = {str(label): str(value) for value, label in choices}
    table.update({str(value): str(value) for value, _ in choices})
    table.update(extra)
    return table


HOUSEHOLD_ROLES = _choice_table(
    HouseholdRole.choices,
    {
        "本人": "head",
        "户主本人": "head",
        "妻": "spouse",
        "妻子": "spouse",
        "夫": "spouse",
        "丈夫": "spouse",
        "子": "child",
        "女": "child",
        "儿子": "child",
        "女儿": "child",
        "长子": "child",
        "长女": "child",
        "次子": "child",
        "次女": "child",
        "父亲": "parent",
        "母亲": "parent",
        "父": "parent",
        "母": "parent",
        "孙子": "grandchild",
        "孙女": "grandchild",
        "外孙子": "grandchild",
        "外孙女": "grandchild",
    },
)
RESIDENCE_TYPES = _choice_table(
    ResidenceType.choices,
    {
        "户籍人口": "registered",
        "常住人口": "permanent",
        "流动人口": "floating",
        "外来人口": "floating",
        "租户": "renting",
        "租住人口": "renting",
        "出租": "renting",
    },
)
LICENCE_STATUSES = _choice_table(
    LicenceStatus.choices, {"正常": "valid", "已过期": "expired", "未办证": "none", "无": "none"}
)
CONDITIONS = _choice_table(
    FacilityCondition.choices, {"正常": "good", "损坏": "damaged", "缺失": "missing", "被占用": "occupied"}
)


_ID_FAST = re.compile(r"^\d{17}[\dX]$")


def parse_id(value: str, *, today: dt.date) -> IdInfo:
    """parse_id_number with a fast path for the common, valid case.

    The same checks as wangge.registry.validation.parse_id_number (length, digits, province, ISO 7064
    check character, birth date between 1900 and today), without python-stdnum's generic cleaning, which
    cost ~15 µs a row. Anything unusual goes to parse_id_number, so its result and its Chinese error
    messages stay the only ones.
    """
    n = value.upper()
    if len(n) == 18 and _ID_FAST.match(n) and n[:2] in PROVINCES:
        check = (1 - 2 * int(n[:-1], 13)) % 11
        if ("X" if check == 10 else str(check)) == n[17]:
            try:
                birth = dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
            except ValueError:
                birth = None
            if birth is not None and birth.year >= 1900 and birth <= today:
                return IdInfo(number=n, birth_date=birth, sex="M" if int(n[16]) % 2 else "F")
    return parse_id_number(value, today=today)


def parse_choice(value: Any, column: str, table: dict[str, str], choices: Any) -> str | None:
    """A choice by label or value (plus the usual synonyms in `table`); `choices` is the TextChoices class."""
    s = text(value)
    if not s:
        return None
    found = table.get(s) or table.get(s.lower())
    if found is None:
        raise RowInvalid(
            column, s, f"不是可选值（可选：{'、'.join(str(label) for label in choices.labels)}）"
        )
    return found


def tune_for_bulk(model: type[Model] = Resident) -> None:
    """Give this connection a larger SQLite page cache (64 MB) for the import.

    The random keyed hashes land all over the unique index; with SQLite's default 2 MB cache, inserting
    100,000 residents spent more time re-reading index pages than writing. No-op on PostgreSQL.
    """
    conn = connections[router.db_for_write(model)]
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.execute("PRAGMA wal_autocheckpoint = 20000")


def adapt_now(model: type[Model] = Resident) -> Any:
    """timezone.now() adapted once for the database (sql_upsert leaves adapted values alone)."""
    conn = connections[router.db_for_write(model)]
    return conn.ops.adapt_datetimefield_value(timezone.now())


def _chunks(rows: Iterable[RowIn], size: int) -> Iterator[list[RowIn]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _in_scope(path: str, scope_path: str) -> bool:
    return path.startswith(scope_path)


def _mask(column: str, value: Any) -> str:
    s = text(value)
    if column == "id_number":
        return mask_id_number(s)
    if column == "phone":
        return mask_phone(s)
    return s[:200]


class _Buildings:
    """code -> (id, path, grid_id), loaded lazily in batches and kept for the whole import."""

    def __init__(self) -> None:
        self.by_code: dict[str, tuple[int, str, int | None] | None] = {}

    def load(self, codes: Iterable[str]) -> None:
        missing = {c for c in codes if c and c not in self.by_code}
        if not missing:
            return
        for code, pk, path, grid_id in Building.objects.filter(code__in=missing).values_list(
            "code", "id", "path", "grid_id"
        ):
            self.by_code[code] = (pk, path, grid_id)
        for code in missing:
            self.by_code.setdefault(code, None)

    def get(self, code: str, scope_path: str) -> tuple[int, str, int | None]:
        found = self.by_code.get(code)
        if found is None:
            raise RowInvalid("building", code, "楼栋编码不存在（请先导入楼栋）")
        if not _in_scope(found[1], scope_path):
            raise RowInvalid("building", code, "楼栋不在您的管辖范围内")
        return found


def _run(
    rows: Iterable[RowIn],
    *,
    chunk_size: int,
    validate: Callable[[int, dict[str, Any]], Any],
    prepare: Callable[[list[RowIn]], None] | None,
    write: Callable[[list[tuple[int, Any]], BulkResult], tuple[list[int], list[int]]],
    action: str,
    object_type: str,
    actor: Any,
    scope_path: str,
    job_id: int | None,
    on_chunk: Callable[[BulkResult], None] | None,
    pipeline: bool = False,
) -> BulkResult:
    """The loop shared by every register: validate a chunk, write it with its audit row, report progress.

    `pipeline=True` (only for registers whose `validate` touches no database and that need no
    `prepare`) reads and validates chunk N+1 in a second thread while chunk N is written.
    """
    result = BulkResult()
    with _gc_paused():
        _run_chunks(
            rows,
            result,
            chunk_size=chunk_size,
            validate=validate,
            prepare=prepare,
            write=write,
            action=action,
            object_type=object_type,
            actor=actor,
            scope_path=scope_path,
            job_id=job_id,
            on_chunk=on_chunk,
            pipeline=pipeline,
        )
    return result


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during an import.

    An import allocates millions of short-lived objects while keeping a growing set alive (the ID
    numbers seen, the dwelling cache); every full collection walks all of them, which made the time per
    row grow with the file (100,000 rows: ~30% of the run). Nothing here builds reference cycles that
    need collecting; reference counting frees the rest.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_chunks(
    rows: Iterable[RowIn],
    result: BulkResult,
    *,
    chunk_size: int,
    validate: Callable[[int, dict[str, Any]], Any],
    prepare: Callable[[list[RowIn]], None] | None,
    write: Callable[[list[tuple[int, Any]], BulkResult], tuple[list[int], list[int]]],
    action: str,
    object_type: str,
    actor: Any,
    scope_path: str,
    job_id: int | None,
    on_chunk: Callable[[BulkResult], None] | None,
    pipeline: bool = False,
) -> None:
    def check(chunk: list[RowIn]) -> tuple[int, list[tuple[int, Any]], list[RowError]]:
        valid: list[tuple[int, Any]] = []
        errors: list[RowError] = []
        for number, row in chunk:
            try:
                valid.append((number, validate(number, row)))
            except RowInvalid as exc:
                errors.append(RowError(number, exc.column, _mask(exc.column, exc.value), exc.message))
        return len(chunk), valid, errors

    def store(checked: tuple[int, list[tuple[int, Any]], list[RowError]]) -> None:
        size, valid, errors = checked
        for error in errors:
            result.error_rows += 1
            result.add_error(error)
        if valid:
            with transaction.atomic():
                _relax_commit()
                created, updated = write(valid, result)
                if created or updated:
                    audit_record(
                        actor=actor,
                        action=action,
                        path=scope_path,
                        object_type=object_type,
                        object_id=str(job_id or ""),
                        object_repr=f"批量导入 新增{len(created)} 更新{len(updated)}",
                        after={"created": created, "updated": updated, "job": job_id},
                    )
            result.created += len(created)
            result.updated += len(updated)
        result.processed += size
        result.chunks += 1
        if on_chunk is not None:
            on_chunk(result)

    if not pipeline:
        for chunk in _chunks(rows, chunk_size):
            if prepare is not None:
                prepare(chunk)
            store(check(chunk))
        return
    if prepare is not None:
        raise ValueError("pipeline=True validates off this thread: no prepare() allowed")
    # The helper thread validates chunk N+1 (pure Python, no database) while this thread writes chunk N
    # on the caller's connection (inside the caller's transaction in tests). The file is read here: moving
    # the reading to the helper too made two CPU-bound threads fight over the GIL and was slower.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-validate") as pool:
        pending: Future[Any] | None = None
        for chunk in _chunks(rows, chunk_size):
            ahead = pool.submit(check, chunk)  # one worker: validate()'s state is touched in file order
            if pending is not None:
                store(pending.result())
            pending = ahead
        if pending is not None:
            store(pending.result())


def _relax_commit(model: type[Model] = Resident) -> None:
    """On PostgreSQL, don't wait for the WAL flush at each chunk's commit (SET LOCAL: this transaction only).

    A crash can then lose the last chunks (data and their audit rows together, never one without the
    other); the job shows as unfinished and re-running the import upserts them again. Waiting for ~50
    flushes was a fifth of a 100,000-row import.
    """
    conn = connections[router.db_for_write(model)]
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _reject(result: BulkResult, number: int, column: str, value: Any, message: str) -> None:
    result.error_rows += 1
    result.add_error(RowError(number, column, _mask(column, value), message))


# --- portable multi-row upsert ---------------------------------------------------------------------

# Django's bulk_create(update_conflicts=True) issues the same INSERT ... ON CONFLICT ... DO UPDATE SET
# col = EXCLUDED.col [RETURNING ...] on SQLite and PostgreSQL, but builds a model instance per row and runs
# each value through the field machinery; on SQLite it also caps a statement at 999 parameters. For the
# residents import (four tables per row) that overhead alone was ~40 µs a row, most of the 100 µs budget
# (bench/import_residents.py). `sql_upsert` writes that statement directly from tuples: values are adapted
# only where the backend needs it (dates, datetimes) and one statement carries up to `max_rows` rows.
# The low-volume registers (buildings, places, facilities) keep using bulk_create.

_MAX_PARAMS = {"sqlite": 30000, "postgresql": 60000}


def _columns_to_fields(
    columns: Iterable[str] | None, field_map: dict[str, list[str]], *, also: Iterable[str] = ()
) -> tuple[set[str], list[str]]:
    """(columns present, model fields to update on conflict) for an import naming `columns`.

    No `columns` means every column of `field_map` (and `also`); `updated_at` is always refreshed.
    """
    present = set(columns) if columns is not None else set(field_map) | set(also)
    return present, sorted({f for key in present for f in field_map.get(key, [])} | {"updated_at"})


def _bulk_upsert_objs(model: type[Model], objs: list[Any], key: str, update_fields: list[str]) -> None:
    """bulk_create(update_conflicts=True) on the unique `key`, then make sure every object has its pk.

    PostgreSQL returns the ids of inserted and updated rows; SQLite may not, so missing ones are
    looked up by `key`.
    """
    model._default_manager.bulk_create(
        objs, update_conflicts=True, unique_fields=[key], update_fields=update_fields, batch_size=500
    )
    if any(o.pk is None for o in objs):
        ids = dict(
            model._default_manager.filter(**{f"{key}__in": [getattr(o, key) for o in objs]}).values_list(
                key, "id"
            )
        )
        for o in objs:
            o.pk = ids[getattr(o, key)]


def sql_upsert(
    model: type[Model],
    fields: list[str],
    rows: list[tuple[Any, ...]],
    *,
    unique: list[str] | None = None,
    update: list[str] | None = None,
    returning: list[str] | None = None,
    max_rows: int = 1000,
) -> list[tuple[Any, ...]]:
    """INSERT `rows` (tuples in `fields` order, attnames like "building_id") into `model`'s table.

    With `unique` and `update`: ON CONFLICT (unique) DO UPDATE SET f = EXCLUDED.f for f in update (DO
    NOTHING without `update`). With `returning`: those columns of every inserted or updated row, in no
    guaranteed order. Runs in the caller's transaction.
    """
    if not rows:
        return []
    conn = connections[router.db_for_write(model)]
    if conn.vendor not in _MAX_PARAMS:  # pragma: no cover - the project supports SQLite and PostgreSQL
        raise NotImplementedError(conn.vendor)
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    qn = conn.ops.quote_name

    def column(name: str) -> str:
        field = by_attname[name] if name in by_attname else meta.get_field(name)
        assert isinstance(field, Field) and field.column is not None  # a concrete field
        return qn(field.column)

    adapt: list[tuple[int, Any]] = []
    for i, name in enumerate(fields):
        field = by_attname[name]
        if isinstance(field, DateTimeField):
            adapt.append((i, conn.ops.adapt_datetimefield_value))
        elif isinstance(field, DateField):
            adapt.append((i, conn.ops.adapt_datefield_value))
    per_stmt = max(1, min(max_rows, _MAX_PARAMS[conn.vendor] // len(fields)))
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(column(f) for f in fields)}) VALUES "  # noqa: S608 - names from model metadata; values are parameters
    tail = ""
    if unique:
        targets = ", ".join(column(f) for f in unique)
        if update:
            sets = ", ".join(f"{column(f)} = EXCLUDED.{column(f)}" for f in update)
            tail = f" ON CONFLICT ({targets}) DO UPDATE SET {sets}"
        else:
            tail = f" ON CONFLICT ({targets}) DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(column(f) for f in returning)
    if conn.vendor == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
        return _pg_copy_insert(
            conn, qn(meta.db_table), [column(f) for f in fields], rows, tail, bool(returning)
        )
    out: list[tuple[Any, ...]] = []
    with conn.cursor() as cursor:
        for start in range(0, len(rows), per_stmt):
            part = rows[start : start + per_stmt]
            params: list[Any] = []
            if adapt:
                for row in part:
                    values = list(row)
                    for i, fn in adapt:
                        if values[i] is not None and not isinstance(values[i], str):  # str: adapted already
                            values[i] = fn(values[i])
                    params.extend(values)
            else:
                for row in part:
                    params.extend(row)
            cursor.execute(head + ", ".join([placeholder] * len(part)) + tail, params)
            if returning:
                out.extend(tuple(r) for r in cursor.fetchall())
    return out


# PostgreSQL does better with COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT: a
# 1,000-row VALUES list with 18,000 bound parameters costs more to parse and bind than the rows to write.
_COPY_MIN_ROWS = 200
_copy_seq = itertools.count()


def _pg_copy_insert(
    conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]], tail: str, returning: bool
) -> list[tuple[Any, ...]]:
    tmp = f"wangge_bulk_{next(_copy_seq)}"
    cols = ", ".join(columns)
    out: list[tuple[Any, ...]] = []
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {table} WITH NO DATA")  # noqa: S608 - names from model metadata
        with cursor.cursor.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp}{tail}")  # noqa: S608
        if returning:
            out = [tuple(r) for r in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {tmp}")
    return out


# --- residents -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ResidentRow:
    name: str
    id_number: str
    id_hash: str
    birth_date: dt.date
    sex: str
    id_enc: str
    phone: str
    phone_enc: str
    phone_hash: str | None
    building_code: str
    unit: str
    room: str
    household_role: str
    residence_type: str
    ethnicity: str
    tag_ids: frozenset[int] | None
    moved_in: dt.date | None
    building: tuple[int, str, int | None] = (0, "", None)  # resolved on the writing thread


RESIDENT_FIELDS = {  # column key -> model fields it writes
    "name": ["name"],
    "id_number": ["id_number_enc", "birth_date", "sex"],
    "phone": ["phone_enc", "phone_hash"],
    # The address is building + unit + room together: a row's building always sets its dwelling too.
    "building": ["building", "path", "dwelling"],
    "room": ["dwelling"],
    "unit": ["dwelling"],
    "household_role": ["household_role"],
    "residence_type": ["residence_type"],
    "ethnicity": ["ethnicity"],
}


def residents_bulk_upsert(
    *,
    actor: Any,
    rows: Iterable[RowIn],
    scope_path: str,
    columns: Iterable[str] | None = None,
    job_id: int | None = None,
    on_chunk: Callable[[BulkResult], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    today: dt.date | None = None,
) -> BulkResult:
    """Create or update residents by ID number (keyed hash); dwellings, occupancies and set tags follow."""
    today = today or timezone.localdate()
    present, update_fields = _columns_to_fields(columns, RESIDENT_FIELDS, also=("tags", "moved_in"))
    buildings = _Buildings()
    tag_lookup: dict[str, tuple[int, str]] = {}
    for pk, code, name, kind in KeyGroup.objects.values_list("id", "code", "name", "kind"):
        tag_lookup[code] = tag_lookup[code.lower()] = tag_lookup[name] = (pk, kind)
    seen: dict[str, int] = {}  # ID number -> first row with it
    digest = crypto.keyring().digest
    encrypt = crypto.keyring().encrypt
    tune_for_bulk()

    def validate(number: int, row: dict[str, Any]) -> _ResidentRow:
        name = text(row.get("name"))
        if not name:
            raise RowInvalid("name", "", "姓名不能为空")
        if len(name) > 50:
            raise RowInvalid("name", name, "姓名过长（最多50个字）")
        raw_id = row.get("id_number")
        if isinstance(raw_id, float) and raw_id >= 1e15:
            raise RowInvalid(
                "id_number", "", "身份证号被 Excel 存成了数字，末几位已丢失；请把该列设为文本后重新填写"
            )
        try:
            info = parse_id(text(raw_id).replace(" ", ""), today=today)
        except InvalidInput as exc:
            raise RowInvalid("id_number", raw_id, exc.message)
        first = seen.get(info.number)
        if first is not None:
            raise RowInvalid("id_number", info.number, f"身份证号与第 {first} 行重复")
        seen[info.number] = number
        phone = ""
        raw_phone = text(row.get("phone"))
        if raw_phone:
            try:
                phone = normalise_phone(raw_phone)
            except InvalidInput as exc:
                raise RowInvalid("phone", raw_phone, exc.message)
        code = text(row.get("building"))
        if not code:
            raise RowInvalid("building", "", "楼栋编码不能为空")
        unit, room = text(row.get("unit")), text(row.get("room"))
        if len(unit) > 16 or len(room) > 16:
            raise RowInvalid(
                "room" if len(room) > 16 else "unit", room or unit, "单元或房号过长（最多16个字符）"
            )
        if unit and not room:
            raise RowInvalid("room", "", "填写了单元但没有房号")
        role = parse_choice(row.get("household_role"), "household_role", HOUSEHOLD_ROLES, HouseholdRole)
        rtype = parse_choice(row.get("residence_type"), "residence_type", RESIDENCE_TYPES, ResidenceType)
        ethnicity = text(row.get("ethnicity"))
        if len(ethnicity) > 16:
            raise RowInvalid("ethnicity", ethnicity, "民族过长")
        tag_ids: frozenset[int] | None = None
        if "tags" in present:
            ids = set()
            for part in _SPLIT_TAGS.split(text(row.get("tags"))):
                if not part:
                    continue
                found = tag_lookup.get(part) or tag_lookup.get(part.lower())
                if found is None:
                    raise RowInvalid("tags", part, f"重点人群“{part}”不存在（可选值见模板“填写说明”）")
                if found[1] == KeyGroup.Kind.SET:
                    ids.add(found[0])
            tag_ids = frozenset(ids)
        moved_in = parse_date(row.get("moved_in"), "moved_in", today=today)
        return _ResidentRow(
            name=name,
            id_number=info.number,
            id_hash=digest(info.number),
            id_enc=encrypt(info.number),
            birth_date=info.birth_date,
            sex=info.sex,
            phone=phone,
            phone_enc=encrypt(phone) if phone else "",
            phone_hash=digest(phone) if phone else None,
            building_code=code,
            unit=unit,
            room=room,
            household_role=role or "",
            residence_type=rtype or ResidenceType.PERMANENT,
            ethnicity=ethnicity,
            tag_ids=tag_ids,
            moved_in=moved_in,
        )

    dwellings: dict[tuple[int, str, str], int] = {}
    loaded_buildings: set[int] = set()

    def dwelling_ids(items: list[_ResidentRow]) -> None:
        need = {r.building[0] for r in items if r.room} - loaded_buildings
        if need:
            for bid, unit, room, pk in Dwelling.objects.filter(building_id__in=need).values_list(
                "building_id", "unit", "room", "id"
            ):
                dwellings[(bid, unit, room)] = pk
            loaded_buildings.update(need)
        new: dict[tuple[int, str, str], tuple[Any, ...]] = {}
        for r in items:
            key = (r.building[0], r.unit, r.room)
            if r.room and key not in dwellings and key not in new:
                new[key] = (key[0], r.unit, r.room, r.building[1], DwellingUse.SELF)
        if new:
            # "DO UPDATE" (not "DO NOTHING") so that a dwelling another import just created returns its id too.
            returned = sql_upsert(
                Dwelling,
                ["building_id", "unit", "room", "path", "use"],
                list(new.values()),
                unique=["building_id", "unit", "room"],
                update=["building_id"],
                returning=["id", "building_id", "unit", "room"],
            )
            for pk, bid, unit, room in returned:
                dwellings[(bid, unit, room)] = pk

    through = Resident.tags.through
    set_tag_ids = set(KeyGroup.objects.filter(kind=KeyGroup.Kind.SET).values_list("id", flat=True))
    insert_fields = [
        "name",
        "id_number_enc",
        "id_hash",
        "phone_enc",
        "phone_hash",
        "birth_date",
        "sex",
        "ethnicity",
        "dwelling_id",
        "building_id",
        "path",
        "household_role",
        "residence_type",
        "status",
        "is_party_member",
        "health_notes_enc",
        "created_at",
        "updated_at",
    ]
    resident_update = [f + "_id" if f in ("dwelling", "building") else f for f in update_fields]

    def write(valid: list[tuple[int, Any]], result: BulkResult) -> tuple[list[int], list[int]]:
        # Buildings are looked up here, on the caller's connection, not in validate(): see pipeline=True.
        buildings.load(r.building_code for _, r in valid)
        items: list[tuple[int, _ResidentRow]] = []
        for number, r in valid:
            try:
                r.building = buildings.get(r.building_code, scope_path)
            except RowInvalid as exc:
                _reject(result, number, exc.column, exc.value, exc.message)
                continue
            items.append((number, r))
        if not items:
            return [], []
        existing: dict[str, tuple[int, int | None, str]] = {
            h: (pk, dwelling_id, path)
            for h, pk, dwelling_id, path in Resident.objects.filter(
                id_hash__in=[r.id_hash for _, r in items]
            ).values_list("id_hash", "id", "dwelling_id", "path")
            if h is not None  # always: matched by id_hash__in
        }
        keep: list[_ResidentRow] = []
        for number, r in items:
            old = existing.get(r.id_hash)
            if old is not None and not _in_scope(old[2], scope_path):
                _reject(
                    result,
                    number,
                    "id_number",
                    r.id_number,
                    "该居民已在其他辖区登记，不能通过导入修改（请联系其所在社区办理迁移）",
                )
                continue
            keep.append(r)
        if not keep:
            return [], []
        dwelling_ids(keep)
        now = adapt_now()
        values = []
        dwelling_of: dict[str, int | None] = {}
        for r in keep:
            dwelling_id = dwellings.get((r.building[0], r.unit, r.room)) if r.room else None
            dwelling_of[r.id_hash] = dwelling_id
            values.append(
                (
                    r.name,
                    r.id_enc,
                    r.id_hash,
                    r.phone_enc,
                    r.phone_hash,
                    r.birth_date,
                    r.sex,
                    r.ethnicity,
                    dwelling_id,
                    r.building[0],
                    r.building[1],
                    r.household_role,
                    r.residence_type,
                    ResidentStatus.ACTIVE,
                    False,
                    "",
                    now,
                    now,
                )
            )
        ids = {
            h: pk
            for pk, h in sql_upsert(
                Resident,
                insert_fields,
                values,
                unique=["id_hash"],
                update=resident_update,
                returning=["id", "id_hash"],
            )
        }
        created: list[int] = []
        updated: list[int] = []
        occupancies: list[tuple[Any, ...]] = []
        moved: list[int] = []
        new_tags: list[tuple[int, int]] = []
        retag: list[tuple[int, frozenset[int]]] = []
        dwelling_changes = "building" in present
        for r in keep:
            pk = ids[r.id_hash]
            dwelling_id = dwelling_of[r.id_hash]
            old = existing.get(r.id_hash)
            relation = (
                OccupancyRelation.TENANT
                if r.residence_type == ResidenceType.RENTING
                else OccupancyRelation.LIVES
            )
            if old is None:
                created.append(pk)
                if dwelling_id:
                    occupancies.append((pk, dwelling_id, relation, r.moved_in or today, None, r.building[1]))
                if r.tag_ids:
                    new_tags.extend((pk, t) for t in r.tag_ids)
            else:
                updated.append(pk)
                if dwelling_changes and old[1] != dwelling_id:
                    moved.append(pk)
                    if dwelling_id:
                        occupancies.append(
                            (pk, dwelling_id, relation, r.moved_in or today, None, r.building[1])
                        )
                if r.tag_ids is not None:
                    retag.append((pk, r.tag_ids))
        if moved:
            Occupancy.objects.filter(resident_id__in=moved, moved_out__isnull=True).update(moved_out=today)
        if occupancies:
            sql_upsert(
                Occupancy,
                ["resident_id", "dwelling_id", "relation", "moved_in", "moved_out", "path"],
                occupancies,
            )
        if retag:
            current: dict[int, set[int]] = {}
            for rid, tid in through.objects.filter(
                resident_id__in=[rid for rid, _ in retag], keygroup_id__in=set_tag_ids
            ).values_list("resident_id", "keygroup_id"):
                current.setdefault(rid, set()).add(tid)
            changed = [(rid, tags) for rid, tags in retag if current.get(rid, set()) != tags]
            if changed:
                through.objects.filter(
                    resident_id__in=[rid for rid, _ in changed], keygroup_id__in=set_tag_ids
                ).delete()
                new_tags.extend((rid, t) for rid, tags in changed for t in tags)
        if new_tags:
            sql_upsert(through, ["resident_id", "keygroup_id"], new_tags)
        return created, updated

    return _run(
        rows,
        chunk_size=chunk_size,
        validate=validate,
        prepare=None,
        write=write,
        action="import.residents",
        object_type="registry.resident",
        actor=actor,
        scope_path=scope_path,
        job_id=job_id,
        on_chunk=on_chunk,
        pipeline=True,  # validate() touches no database; buildings are resolved in write()
    )


# --- buildings -------------------------------------------------------------------------------------


BUILDING_FIELDS = {
    "name": ["name"],
    "compound": ["compound"],
    "grid": ["grid", "path"],
    "address": ["address"],
    "lng": ["lng", "lat"],
    "lat": ["lng", "lat"],
    "floors": ["floors"],
    "units": ["units"],
}


def buildings_bulk_upsert(
    *,
    actor: Any,
    rows: Iterable[RowIn],
    scope_path: str,
    columns: Iterable[str] | None = None,
    job_id: int | None = None,
    on_chunk: Callable[[BulkResult], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BulkResult:
    """Create or update buildings by code; compounds are matched by name in the community or created.

    A building moved to another grid takes its dwellings, residents and open occupancies with it.
    """
    present, update_fields = _columns_to_fields(columns, BUILDING_FIELDS)
    nodes: dict[str, Territory | None] = {}
    seen: dict[str, int] = {}
    existing: dict[str, tuple[int, str] | None] = {}

    def prepare(chunk: list[RowIn]) -> None:
        codes = {text(r.get("grid")) for _, r in chunk} - set(nodes)
        if codes:
            found = {t.code: t for t in Territory.objects.filter(code__in=codes).select_related("parent")}
            for c in codes:
                nodes[c] = found.get(c)
        bcodes = {text(r.get("code")) for _, r in chunk} - set(existing)
        if bcodes:
            for code, pk, path in Building.objects.filter(code__in=bcodes).values_list("code", "id", "path"):
                existing[code] = (pk, path)
            for c in bcodes:
                existing.setdefault(c, None)

    def validate(number: int, row: dict[str, Any]) -> dict[str, Any]:
        code = text(row.get("code"))
        if not code:
            raise RowInvalid("code", "", "楼栋编码不能为空")
        if len(code) > 32:
            raise RowInvalid("code", code, "楼栋编码过长（最多32个字符）")
        if code in seen:
            raise RowInvalid("code", code, f"楼栋编码与第 {seen[code]} 行重复")
        old = existing.get(code)
        if old is not None and not _in_scope(old[1], scope_path):
            raise RowInvalid("code", code, "楼栋不在您的管辖范围内")
        name = text(row.get("name"))
        if not name:
            raise RowInvalid("name", "", "楼栋名称不能为空")
        gcode = text(row.get("grid"))
        node = nodes.get(gcode)
        if not gcode:
            raise RowInvalid("grid", "", "网格编码不能为空")
        if node is None or node.level not in (Level.GRID, Level.COMMUNITY):
            raise RowInvalid("grid", gcode, "网格编码不存在（应为15位网格编码或12位社区编码）")
        if not _in_scope(node.code, scope_path):
            raise RowInvalid("grid", gcode, "网格不在您的管辖范围内")
        if node.valid_to is not None:
            raise RowInvalid("grid", gcode, "该网格已停用")
        lng, lat = parse_coords(row, required=False)
        seen[code] = number
        return {
            "code": code,
            "name": name[:100],
            "compound": text(row.get("compound"))[:100],
            "node": node,
            "address": text(row.get("address"))[:200],
            "lng": lng,
            "lat": lat,
            "floors": parse_int(row.get("floors"), "floors", low=1, high=200) or 1,
            "units": parse_int(row.get("units"), "units", low=1, high=100) or 1,
        }

    def write(valid: list[tuple[int, Any]], result: BulkResult) -> tuple[list[int], list[int]]:
        items = [r for _, r in valid]
        communities = {(r["node"].parent if r["node"].level == Level.GRID else r["node"]) for r in items}
        compounds: dict[tuple[int, str], int] = {}
        for pk, cid, name in Compound.objects.filter(community__in=communities).values_list(
            "id", "community_id", "name"
        ):
            compounds.setdefault((cid, name), pk)
        new_compounds: dict[tuple[int, str], Compound] = {}
        for r in items:
            community = r["node"].parent if r["node"].level == Level.GRID else r["node"]
            r["community"] = community
            key = (community.pk, r["compound"])
            if r["compound"] and key not in compounds and key not in new_compounds:
                taken = set(
                    Compound.objects.filter(code__startswith=f"{community.code}-").values_list(
                        "code", flat=True
                    )
                )
                taken |= {c.code for c in new_compounds.values()}
                seq = len(taken) + 1
                while f"{community.code}-{seq:03d}" in taken:
                    seq += 1
                new_compounds[key] = Compound(
                    code=f"{community.code}-{seq:03d}",
                    name=r["compound"],
                    community=community,
                    grid=r["node"] if r["node"].level == Level.GRID else None,
                    path=r["node"].code,
                )
        if new_compounds:
            Compound.objects.bulk_create(new_compounds.values())
            compounds.update({k: c.pk for k, c in new_compounds.items()})
        objs = []
        for r in items:
            node = r["node"]
            objs.append(
                Building(
                    code=r["code"],
                    name=r["name"],
                    address=r["address"],
                    lng=r["lng"],
                    lat=r["lat"],
                    floors=r["floors"],
                    units=r["units"],
                    path=node.code,
                    grid_id=node.pk if node.level == Level.GRID else None,
                    compound_id=compounds.get((r["community"].pk, r["compound"])) if r["compound"] else None,
                )
            )
        _bulk_upsert_objs(Building, objs, "code", update_fields)
        created, updated = [], []
        repath: dict[str, list[int]] = {}
        for o in objs:
            old = existing.get(o.code)
            if old is None:
                created.append(o.pk)
            else:
                updated.append(o.pk)
                if "grid" in present and old[1] != o.path:
                    repath.setdefault(o.path, []).append(o.pk)
            existing[o.code] = (o.pk, o.path)
        for path, bids in repath.items():
            Dwelling.objects.filter(building_id__in=bids).update(path=path)
            Resident.objects.filter(building_id__in=bids).update(path=path)
            Occupancy.objects.filter(dwelling__building_id__in=bids, moved_out__isnull=True).update(path=path)
        return created, updated

    return _run(
        rows,
        chunk_size=chunk_size,
        validate=validate,
        prepare=prepare,
        write=write,
        action="import.buildings",
        object_type="territory.building",
        actor=actor,
        scope_path=scope_path,
        job_id=job_id,
        on_chunk=on_chunk,
    )


# --- places and facilities: located by building or by point -----------------------------------------


class _Locator:
    """WGS-84 point -> (grid id, grid code) among today's grids, in bulk."""

    def __init__(self) -> None:
        self.codes: dict[int, str] = {}

    def locate(self, points: list[tuple[float, float]]) -> list[tuple[int, str] | None]:
        if not points:
            return []
        from wangge.territory.locator import locate_points

        ids = locate_points([p[0] for p in points], [p[1] for p in points])
        missing = {i for i in ids if i is not None and i not in self.codes}
        if missing:
            self.codes.update(Territory.objects.filter(pk__in=missing).values_list("id", "code"))
        return [(i, self.codes[i]) if i is not None else None for i in ids]


def _locate_rows(
    valid: list[tuple[int, dict[str, Any]]],
    locator: _Locator,
    scope_path: str,
    result: BulkResult,
    column: str = "lng",
) -> list[tuple[int, dict[str, Any]]]:
    """Give each row a grid and path: from its building if any, else from its coordinates."""
    need = [r for _, r in valid if r.get("path") is None]
    found = locator.locate([(r["lng"], r["lat"]) for r in need])
    for r, hit in zip(need, found, strict=True):
        if hit is not None:
            r["grid_id"], r["path"] = hit
    keep = []
    for number, r in valid:
        if r.get("path") is None:
            _reject(result, number, column, f"{r['lng']},{r['lat']}", "坐标不在任何网格内，无法确定所属网格")
        elif not _in_scope(r["path"], scope_path):
            _reject(result, number, column, f"{r['lng']},{r['lat']}", "位置不在您的管辖范围内")
        else:
            keep.append((number, r))
    return keep


PLACE_FIELDS = {
    "name": ["name"],
    "credit_code": ["credit_code"],
    "kind": ["kind"],
    "licence_status": ["licence_status"],
    "operator_name": ["operator_name"],
    "phone": ["phone_enc", "phone_hash"],
    "address": ["address"],
    "building": ["building", "grid", "path"],
    "lng": ["lng", "lat", "grid", "path"],
    "lat": ["lng", "lat"],
}


def place_natural_key(*, credit_code: str, name: str, address: str) -> str:
    return credit_code.upper() if credit_code else f"{name}|{address}"[:250]


def places_bulk_upsert(
    *,
    actor: Any,
    rows: Iterable[RowIn],
    scope_path: str,
    columns: Iterable[str] | None = None,
    job_id: int | None = None,
    on_chunk: Callable[[BulkResult], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BulkResult:
    """Create or update places by unified social credit code, else by name + address."""
    _, update_fields = _columns_to_fields(columns, PLACE_FIELDS)
    buildings = _Buildings()
    locator = _Locator()
    seen: dict[str, int] = {}
    digest, encrypt = crypto.keyring().digest, crypto.keyring().encrypt

    def prepare(chunk: list[RowIn]) -> None:
        buildings.load(text(r.get("building")) for _, r in chunk)

    def validate(number: int, row: dict[str, Any]) -> dict[str, Any]:
        name = text(row.get("name"))
        if not name:
            raise RowInvalid("name", "", "名称不能为空")
        credit = text(row.get("credit_code")).upper()
        if credit:
            try:
                credit = uscc.validate(credit)
            except StdnumError:
                raise RowInvalid("credit_code", credit, "统一社会信用代码无效（应为18位且校验位正确）")
        address = text(row.get("address"))[:200]
        key = place_natural_key(credit_code=credit, name=name[:150], address=address)
        if key in seen:
            raise RowInvalid("credit_code" if credit else "name", credit or name, f"与第 {seen[key]} 行重复")
        status = parse_choice(row.get("licence_status"), "licence_status", LICENCE_STATUSES, LicenceStatus)
        phone = text(row.get("phone"))
        if phone:
            try:
                phone = normalise_phone(phone)
            except InvalidInput as exc:
                raise RowInvalid("phone", phone, exc.message)
        lng, lat = parse_coords(row, required=False)
        bcode = text(row.get("building"))
        out: dict[str, Any] = {"path": None, "grid_id": None, "building_id": None}
        if bcode:
            bid, path, grid_id = buildings.get(bcode, scope_path)
            out.update(building_id=bid, path=path, grid_id=grid_id)
        elif lng is None:
            raise RowInvalid("building", "", "楼栋编码和经纬度至少填一项，用来确定所属网格")
        seen[key] = number
        out.update(
            natural_key=key,
            name=name[:150],
            credit_code=credit,
            kind=text(row.get("kind"))[:50],
            licence_status=status or LicenceStatus.VALID,
            operator_name=text(row.get("operator_name"))[:50],
            phone=phone,
            address=address,
            lng=lng,
            lat=lat,
        )
        return out

    def write(valid: list[tuple[int, Any]], result: BulkResult) -> tuple[list[int], list[int]]:
        items = _locate_rows(valid, locator, scope_path, result)
        old = dict(
            Place.objects.filter(natural_key__in=[r["natural_key"] for _, r in items]).values_list(
                "natural_key", "path"
            )
        )
        keep = []
        for number, r in items:
            if r["natural_key"] in old and not _in_scope(old[r["natural_key"]], scope_path):
                _reject(result, number, "name", r["name"], "该场所已在其他辖区登记，不能通过导入修改")
                continue
            keep.append(r)
        if not keep:
            return [], []
        objs = [
            Place(
                natural_key=r["natural_key"],
                name=r["name"],
                kind=r["kind"],
                credit_code=r["credit_code"],
                licence_status=r["licence_status"],
                operator_name=r["operator_name"],
                phone_enc=encrypt(r["phone"]) if r["phone"] else "",
                phone_hash=digest(r["phone"]) if r["phone"] else None,
                address=r["address"],
                building_id=r["building_id"],
                lat=r["lat"],
                lng=r["lng"],
                grid_id=r["grid_id"],
                path=r["path"],
            )
            for r in keep
        ]
        _bulk_upsert_objs(Place, objs, "natural_key", update_fields)
        created = [o.pk for o in objs if o.natural_key not in old]
        updated = [o.pk for o in objs if o.natural_key in old]
        return created, updated

    return _run(
        rows,
        chunk_size=chunk_size,
        validate=validate,
        prepare=prepare,
        write=write,
        action="import.places",
        object_type="registry.place",
        actor=actor,
        scope_path=scope_path,
        job_id=job_id,
        on_chunk=on_chunk,
    )


FACILITY_FIELDS = {
    "name": ["name"],
    "condition": ["condition"],
    "owner_unit": ["owner_unit"],
    "address": ["address"],
    "lng": ["lng", "lat", "grid", "path"],
    "lat": ["lng", "lat", "grid", "path"],
    "code": ["facility_class"],
}
_FACILITY_CODE = re.compile(r"^\d{16}$")


def facilities_bulk_upsert(
    *,
    actor: Any,
    rows: Iterable[RowIn],
    scope_path: str,
    columns: Iterable[str] | None = None,
    job_id: int | None = None,
    on_chunk: Callable[[BulkResult], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BulkResult:
    """Create or update facilities (部件) by their 16-digit code; the class comes from digits 7-10."""
    _, update_fields = _columns_to_fields(columns, FACILITY_FIELDS)
    classes = {(ma + mi): pk for pk, ma, mi in FacilityClass.objects.values_list("id", "major", "minor")}
    locator = _Locator()
    seen: dict[str, int] = {}

    def validate(number: int, row: dict[str, Any]) -> dict[str, Any]:
        code = text(row.get("code"))
        if not _FACILITY_CODE.match(code):
            raise RowInvalid("code", code, "部件编码应为16位数字（6位区划+2位大类+2位小类+6位流水号）")
        if code in seen:
            raise RowInvalid("code", code, f"部件编码与第 {seen[code]} 行重复")
        class_id = classes.get(code[6:10])
        if class_id is None:
            raise RowInvalid(
                "code", code, f"部件编码中的分类 {code[6:8]}-{code[8:10]} 不存在（见“部件分类”）"
            )
        condition = parse_choice(row.get("condition"), "condition", CONDITIONS, FacilityCondition)
        lng, lat = parse_coords(row, required=True)
        seen[code] = number
        return {
            "code": code,
            "class_id": class_id,
            "name": text(row.get("name"))[:100],
            "condition": condition or FacilityCondition.GOOD,
            "owner_unit": text(row.get("owner_unit"))[:100],
            "address": text(row.get("address"))[:200],
            "lng": lng,
            "lat": lat,
            "path": None,
            "grid_id": None,
            "number": number,
        }

    def write(valid: list[tuple[int, Any]], result: BulkResult) -> tuple[list[int], list[int]]:
        items = _locate_rows(valid, locator, scope_path, result)
        keep = []
        for number, r in items:
            if r["code"][:6] != r["path"][:6]:
                _reject(result, number, "code", r["code"], "部件编码的前6位区划代码与所在网格不一致")
            else:
                keep.append(r)
        old = dict(Facility.objects.filter(code__in=[r["code"] for r in keep]).values_list("code", "path"))
        objs = []
        for r in keep:
            if r["code"] in old and not _in_scope(old[r["code"]], scope_path):
                _reject(result, r["number"], "code", r["code"], "该部件已在其他辖区登记，不能通过导入修改")
                continue
            objs.append(
                Facility(
                    code=r["code"],
                    facility_class_id=r["class_id"],
                    name=r["name"],
                    condition=r["condition"],
                    owner_unit=r["owner_unit"],
                    address=r["address"],
                    lat=r["lat"],
                    lng=r["lng"],
                    grid_id=r["grid_id"],
                    path=r["path"],
                )
            )
        if not objs:
            return [], []
        _bulk_upsert_objs(Facility, objs, "code", update_fields)
        return [o.pk for o in objs if o.code not in old], [o.pk for o in objs if o.code in old]

    return _run(
        rows,
        chunk_size=chunk_size,
        validate=validate,
        prepare=None,
        write=write,
        action="import.facilities",
        object_type="registry.facility",
        actor=actor,
        scope_path=scope_path,
        job_id=job_id,
        on_chunk=on_chunk,
    )


BULK_UPSERTS: dict[str, Callable[..., BulkResult]] = {
    "residents": residents_bulk_upsert,
    "buildings": buildings_bulk_upsert,
    "places": places_bulk_upsert,
    "facilities": facilities_bulk_upsert,
}
