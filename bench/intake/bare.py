"""The bare baseline of the intake bench: a minimal WSGI handler, no Django, that sends the SQL statements
the application sends for POST /api/v1/events/ and GET /api/v1/events/{id}/ (psycopg, one connection per
worker, autocommit, server-side parameters prepared after five runs as the application's) and answers
the same JSON shape. Served by the same gunicorn command line on the same database:

    DATABASE_URL=postgres://… gunicorn bare:app --chdir bench/intake -w 2

Its answer is the floor this stack (gunicorn, Python, psycopg, PostgreSQL) stands on for these calls:
what Django, DRF and the application's own rules add is measured against it (fastpath.py). Where the
application decides something by rule (the grid of a point, the category of a text, the time limit,
reporter encryption) this handler uses a cheap stand-in with the same kind of result; the statements,
their parameters and the JSON keys are the application's (fastpath.py checks the keys).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg

_conn: psycopg.Connection | None = None
_ref: dict[str, Any] = {}

TOKEN_SQL = (
    'SELECT u."id", u."is_active", u."is_superuser", u."username", u."role", u."display_name", '
    't."code", t."level" FROM "authtoken_token" k INNER JOIN "accounts_user" u ON (k."user_id" = u."id") '
    'LEFT OUTER JOIN "territory_territory" t ON (u."territory_id" = t."id") WHERE k."key" = %s'
)
GRID_SQL = 'SELECT "id", "level", "code", "name" FROM "territory_territory" WHERE "id" = %s'
NEARBY_SQL = (
    'SELECT "id", "tracking_code", "title", "description", "lat", "lng", "address", "building_id", '
    '"category_id", "suggested_category_id" FROM "events_event" WHERE ((("lat" BETWEEN %s AND %s AND '
    '"lng" BETWEEN %s AND %s AND "category_id" IN (%s) AND "created_at" >= %s) OR ("lat" BETWEEN %s AND '
    '%s AND "lng" BETWEEN %s AND %s AND "category_id" IS NULL AND "suggested_category_id" IN (%s) AND '
    '"created_at" >= %s) OR ("address" IN (%s) AND "category_id" IN (%s) AND "created_at" >= %s) OR '
    '("address" IN (%s) AND "category_id" IS NULL AND "suggested_category_id" IN (%s) AND "created_at" '
    '>= %s)) AND "master_id" IS NULL AND "status_id" = ANY(%s)) ORDER BY "created_at" DESC LIMIT 500'
)
EVENT_COLUMNS = (
    "tracking_code title description event_type urgency channel category_id suggested_category_id "
    "confidence needs_triage status_id lat lng address grid_id building_id path level anonymous "
    "reporter_name_enc reporter_phone_enc reporter_phone_hash reporter_user_id handler_unit_id "
    "handler_user_id stage stage_started_at warn_at deadline warning calendar_fallback master_id "
    "idempotency_key external_id rating reject_reason triaged_at extra version created_at updated_at "
    "closed_at"
).split()
TIMELINE_COLUMNS = "at actor_id actor_name actor_role action from_status to_status note public data".split()
CLOCK_COLUMNS = "stage started_at warn_at deadline finished_at overdue".split()
AUDIT_COLUMNS = (
    "created_at actor_id actor_name actor_role action object_type object_id object_repr path before "
    "after reason ip"
).split()


def _cols(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _values(n: int) -> str:
    return "(" + ", ".join(["%s"] * n) + ")"


_NEW = '(SELECT "id" FROM family_parent)'
FAMILY_SQL = (
    f'WITH family_parent AS (INSERT INTO "events_event" ({_cols(EVENT_COLUMNS)}) VALUES '
    f'{_values(len(EVENT_COLUMNS))} RETURNING "id"), '
    f'family_0 AS (INSERT INTO "events_timelineentry" ("event_id", {_cols(TIMELINE_COLUMNS)}) VALUES '
    f"({_NEW}, {_values(len(TIMELINE_COLUMNS))[1:]}, ({_NEW}, {_values(len(TIMELINE_COLUMNS))[1:]} "
    'RETURNING "id"), '
    f'family_1 AS (INSERT INTO "events_stagedeadline" ("event_id", {_cols(CLOCK_COLUMNS)}) VALUES '
    f'({_NEW}, {_values(len(CLOCK_COLUMNS))[1:]} RETURNING "id"), '
    f'family_2 AS (INSERT INTO "audit_auditentry" ({_cols(AUDIT_COLUMNS)}) VALUES '
    f'({", ".join(_NEW if c == "object_id" else "%s" for c in AUDIT_COLUMNS)}) RETURNING "id") '
    'SELECT (SELECT array_agg("id") FROM family_parent), (SELECT array_agg("id" ORDER BY "id") FROM '
    'family_0), (SELECT array_agg("id" ORDER BY "id") FROM family_1), (SELECT array_agg("id" ORDER BY '
    '"id") FROM family_2)'
)
_AUDIT_OBJECT = AUDIT_COLUMNS.index("object_id")


def _json_rows(table: str, columns: str) -> str:
    return (
        f'(SELECT JSONB_AGG(JSONB_BUILD_ARRAY({columns})) FROM "{table}" U0 WHERE U0."event_id" = e."id" '
        'GROUP BY U0."event_id" LIMIT 1)'
    )


def _count(table: str, fk: str) -> str:
    return f'COALESCE((SELECT COUNT(U0."id") FROM "{table}" U0 WHERE U0."{fk}" = e."id" LIMIT 1), 0)'


DETAIL_SQL = (
    "SELECT "
    + ", ".join(f'e."{c}"' for c in ["id", *EVENT_COLUMNS])
    + ", "
    + ", ".join(
        [
            _count("events_attachment", "event_id"),
            _count("events_returnvisit", "event_id"),
            _count("events_event", "master_id"),
            _json_rows(
                "events_stagedeadline",
                'U0."id", U0."stage", U0."started_at", U0."warn_at", U0."deadline", U0."finished_at", U0."overdue"',
            ),
            _json_rows(
                "events_timelineentry",
                'U0."id", U0."at", U0."actor_id", U0."actor_name", U0."actor_role", U0."action", '
                'U0."from_status", U0."to_status", U0."note", U0."public", U0."data"',
            ),
        ]
    )
    + ', t."code", t."name" FROM "events_event" e LEFT OUTER JOIN "territory_territory" t ON '
    '(e."grid_id" = t."id") WHERE e."id" = %s LIMIT 1'
)


def _connection() -> psycopg.Connection:
    """One connection per worker, kept (as CONN_MAX_AGE), reference rows read once (as the
    application's configuration caches)."""
    global _conn
    if _conn is None or _conn.closed:
        url = urlsplit(os.environ["DATABASE_URL"])
        _conn = psycopg.connect(
            host=url.hostname,
            port=url.port or 5432,
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            dbname=url.path.lstrip("/"),
            autocommit=True,
            prepare_threshold=5,
        )
        with _conn.cursor() as cur:
            cur.execute('SELECT "id", "code", "name", "is_closed", "is_initial" FROM "events_status"')
            statuses = cur.fetchall()
            cur.execute('SELECT "id", "code", "name" FROM "events_category" WHERE "active" ORDER BY "id"')
            categories = cur.fetchall()
            cur.execute('SELECT "id" FROM "territory_territory" WHERE "level" = %s ORDER BY "id"', ("grid",))
            grids = [r[0] for r in cur.fetchall()]
        _ref["status"] = {r[0]: r for r in statuses}
        _ref["initial"] = next(r for r in statuses if r[4])
        _ref["open"] = [r[0] for r in statuses if not r[3]]
        _ref["category"] = {r[0]: r for r in categories}
        _ref["categories"] = [r[0] for r in categories]
        _ref["grids"] = grids
    return _conn


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).isoformat()


def _mask(text: str, keep: int = 1) -> str:
    return text[:keep] + "*" * max(len(text) - 2, 1) + text[-1:] if len(text) > 1 else text


def _user(cur: Any, environ: dict[str, Any]) -> tuple[Any, ...] | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if not auth.startswith("Token "):
        return None
    cur.execute(TOKEN_SQL, (auth[6:],))
    row = cur.fetchone()
    return row if row and row[1] else None


def _cat(cat_id: int | None) -> dict[str, str] | None:
    if cat_id is None:
        return None
    c = _ref["category"][cat_id]
    return {"code": c[1], "name": c[2]}


def _detail(ev: dict[str, Any], grid: tuple[str, str] | None, clocks: list, timeline: list) -> dict:
    status = _ref["status"][ev["status_id"]]
    return {
        "id": ev["id"],
        "tracking_code": ev["tracking_code"],
        "title": ev["title"],
        "status": {"code": status[1], "name": status[2]},
        "category": _cat(ev["category_id"]),
        "urgency": ev["urgency"],
        "urgency_name": ev["urgency"],
        "channel": ev["channel"],
        "channel_name": ev["channel"],
        "grid": ev["grid_id"],
        "grid_code": grid[0] if grid else None,
        "path": ev["path"],
        "level": ev["level"],
        "handler_unit": "",
        "handler_user": "",
        "needs_triage": ev["needs_triage"],
        "master": ev["master_id"],
        "stage": ev["stage"],
        "deadline": _iso(ev["deadline"]),
        "warning": ev["warning"],
        "overdue": ev["warning"] == "red",
        "created_at": _iso(ev["created_at"]),
        "description": ev["description"],
        "event_type": ev["event_type"],
        "event_type_name": ev["event_type"],
        "suggested_category": _cat(ev["suggested_category_id"]),
        "confidence": ev["confidence"],
        "location": {
            "lat": ev["lat"],
            "lng": ev["lng"],
            "address": ev["address"],
            "building": ev["building_id"],
        },
        "grid_name": grid[1] if grid else "",
        "level_name": ev["level"],
        "reporter": {"anonymous": True, "name": "", "phone": ""}
        if ev["anonymous"]
        else {
            "anonymous": False,
            "name": _mask(ev["reporter_name_enc"]),
            "phone": _mask(ev["reporter_phone_enc"], 3),
        },
        "handler": {"unit": None, "user": None},
        "current_stage": {
            "stage": ev["stage"],
            "stage_name": ev["stage"],
            "started_at": _iso(ev["stage_started_at"]),
            "warn_at": _iso(ev["warn_at"]),
            "deadline": _iso(ev["deadline"]),
            "warning": ev["warning"],
            "calendar_fallback": ev["calendar_fallback"],
        },
        "deadlines": [
            {
                "id": c[0],
                "stage": c[1],
                "stage_name": c[1],
                "started_at": _iso(c[2]),
                "warn_at": _iso(c[3]),
                "deadline": _iso(c[4]),
                "finished_at": _iso(c[5]),
                "overdue": c[6],
                "warning": ev["warning"],
            }
            for c in sorted(clocks, key=lambda c: (c[2], c[0]))
        ],
        "timeline": [
            {
                "id": e[0],
                "at": _iso(e[1]),
                "action": e[5],
                "action_name": e[5],
                "actor": e[3],
                "actor_role": e[4],
                "actor_role_name": e[4] or "系统",
                "from_status": e[6],
                "from_status_name": e[6],
                "to_status": e[7],
                "to_status_name": e[7],
                "note": e[8],
                "public": e[9],
                "data": {k: v for k, v in (e[10] or {}).items() if not k.startswith("_")},
                "attachments": [],
            }
            for e in sorted(timeline, key=lambda e: (e[1], e[0]))
        ],
        "attachments": [],
        "merged_count": 0,
        "rating": ev["rating"],
        "reject_reason": ev["reject_reason"],
        "return_visits": [],
        "reopen_until": None,
        "version": ev["version"],
        "closed_at": _iso(ev["closed_at"]),
        "updated_at": _iso(ev["updated_at"]),
    }


def _create(cur: Any, user: tuple[Any, ...], environ: dict[str, Any]) -> tuple[str, Any]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    data = json.loads(environ["wsgi.input"].read(size))
    lat, lng = float(data["lat"]), float(data["lng"])
    # Stand-ins for the application's rules: a grid and a category from the point and the text.
    grid_id = _ref["grids"][int(abs(lat * 1e4 + lng * 1e4)) % len(_ref["grids"])]
    cat_id = _ref["categories"][len(data.get("description", "")) % len(_ref["categories"])]
    cur.execute(GRID_SQL, (grid_id,))
    grid = cur.fetchone()
    now = datetime.now(UTC)
    since, d = now - timedelta(hours=72), 0.0009
    address = data.get("address", "")
    box = (lat - d, lat + d, lng - d, lng + d)
    cur.execute(
        NEARBY_SQL,
        (
            *box,
            cat_id,
            since,
            *box,
            cat_id,
            since,
            address,
            cat_id,
            since,
            address,
            cat_id,
            since,
            _ref["open"],
        ),
    )
    cur.fetchall()
    anonymous = not data.get("reporter_name")
    initial = _ref["initial"]
    warn_at, deadline = now + timedelta(hours=12), now + timedelta(hours=12, minutes=24)
    extra = {"_fp": secrets.token_hex(32)}
    ev = {
        "tracking_code": secrets.token_hex(5).upper(),
        "title": data.get("title") or data["description"][:40],
        "description": data["description"],
        "event_type": data.get("event_type", "complaint"),
        "urgency": "normal",
        "channel": data.get("channel", "api"),
        "category_id": cat_id,
        "suggested_category_id": cat_id,
        "confidence": 0.95,
        "needs_triage": False,
        "status_id": initial[0],
        "lat": lat,
        "lng": lng,
        "address": address,
        "grid_id": grid[0],
        "building_id": None,
        "path": grid[2],
        "level": "grid",
        "anonymous": anonymous,
        "reporter_name_enc": "" if anonymous else data.get("reporter_name", ""),
        "reporter_phone_enc": "" if anonymous else data.get("reporter_phone", ""),
        "reporter_phone_hash": None,
        "reporter_user_id": user[0],
        "handler_unit_id": None,
        "handler_user_id": None,
        "stage": "accept",
        "stage_started_at": now,
        "warn_at": warn_at,
        "deadline": deadline,
        "warning": "none",
        "calendar_fallback": False,
        "master_id": None,
        "idempotency_key": environ.get("HTTP_IDEMPOTENCY_KEY"),
        "external_id": None,
        "rating": "",
        "reject_reason": "",
        "triaged_at": now,
        "extra": json.dumps(extra),
        "version": 0,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
    }
    triage = {"located_by": "point", "grid": grid[2], "confidence": 0.95, "urgency": "normal"}
    report = (
        now,
        user[0],
        user[3],
        user[4],
        "report",
        "",
        initial[1],
        "",
        True,
        json.dumps({"channel": ev["channel"]}),
    )
    system = (now, None, "system", "", "triage", "", "", "", False, json.dumps(triage))
    clock = ("accept", now, warn_at, deadline, None, False)
    after = {"channel": ev["channel"], "grid": grid[2], "anonymous": anonymous}
    audit = [
        now,
        user[0],
        user[3],
        user[4],
        "event.create",
        "events.event",
        None,
        f"事件 {ev['tracking_code']}",
    ]
    audit += [grid[2], None, json.dumps(after), "", environ.get("REMOTE_ADDR")]
    del audit[_AUDIT_OBJECT]
    cur.execute(FAMILY_SQL, (*[ev[c] for c in EVENT_COLUMNS], *report, *system, *clock, *audit))
    ids = cur.fetchone()
    ev["id"] = ids[0][0]
    ev["extra"] = extra
    timeline = [(ids[1][0], *report[:9], {"channel": ev["channel"]}), (ids[1][1], *system[:9], triage)]
    clocks = [(ids[2][0], "accept", now, warn_at, deadline, None, False)]
    return "201 Created", _detail(ev, (grid[2], grid[3]), clocks, timeline)


def _get(cur: Any, user: tuple[Any, ...], pk: int) -> tuple[str, Any]:
    cur.execute(DETAIL_SQL, (pk,))
    row = cur.fetchone()
    names = ["id", *EVENT_COLUMNS]
    if row is None:
        return "404 Not Found", {"code": "not_found", "message": "未找到"}
    ev = dict(zip(names, row[: len(names)], strict=True))
    if not (user[2] or (user[6] and ev["path"].startswith(user[6]))):
        return "404 Not Found", {"code": "not_found", "message": "未找到"}
    rest = row[len(names) :]
    clocks = [
        (c[0], c[1], *(datetime.fromisoformat(x) if x else None for x in c[2:6]), c[6]) for c in rest[3] or []
    ]
    timeline = rest[4] or []
    return "200 OK", _detail(ev, (rest[5], rest[6]) if rest[5] else None, clocks, timeline)


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    with _connection().cursor() as cur:
        user = _user(cur, environ)
        if user is None:
            status, body = "401 Unauthorized", {"code": "not_authenticated", "message": "未登录"}
        elif method == "POST" and path == "/api/v1/events/":
            status, body = _create(cur, user, environ)
        elif method == "GET" and path.startswith("/api/v1/events/") and path[15:-1].isdigit():
            status, body = _get(cur, user, int(path[15:-1]))
        else:
            status, body = "404 Not Found", {"code": "not_found", "message": "未找到"}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))])
    return [raw]
