"""OpenAPI schema post-processing: document the one error shape every API view answers with.

`wangge.core.api.exception_handler` turns every client error (DRF's own included) into
{"code", "message", "details"}. The views document only the successes and a few errors by hand, so a
client (or a schema-driven test) reading the schema would not know that a 401 or a 404 may come, nor
what its body looks like. This hook adds those responses with the `Error` body to every operation.
"""

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "每个错误的统一格式",
    "properties": {
        "code": {"type": "string", "description": "机器可读的错误代码"},
        "message": {"type": "string", "description": "中文错误说明"},
        "details": {"description": "字段错误等补充信息（可无）"},
    },
    "required": ["code", "message"],
}

# Why each status may come, for any operation: bad input or parameters; no or bad token; a role without
# the permission; an id outside the caller's scope (never a 403, see docs/architecture.md); too many
# requests. Writes may also conflict with the stored state, or send a body of another media type.
_ALWAYS = {
    "400": "输入有误",
    "401": "未登录或身份验证失败",
    "403": "没有此操作的权限",
    "404": "不存在或不在您的范围内",
    "429": "请求过于频繁",
}
_WRITES = {"409": "状态冲突（如 version 已过期、重复提交）", "415": "不支持的请求内容类型"}
_WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: error responses with the `Error` body everywhere."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = {**_ALWAYS, **(_WRITES if method in _WRITE_METHODS else {})}
            for status, description in wanted.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                # Every 4xx of /api/ carries the error body, including the ones views documented by hand.
                if status.startswith("4") and "content" not in response:
                    response["content"] = ref
    return result
