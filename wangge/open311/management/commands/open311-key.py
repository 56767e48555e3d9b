"""`wangge open311-key create|list|revoke`: api keys for Open311 clients.

wangge open311-key create --name 市级12345平台   # prints the new key ONCE; only its keyed hash is kept
wangge open311-key list
wangge open311-key revoke --name 市级12345平台
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wangge.core.errors import ServiceError
from wangge.open311 import selectors, services


class Command(BaseCommand):
    help = "管理 Open311 客户端的 api_key（create / list / revoke）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="签发新的 api_key（只显示这一次）")
        create.add_argument("--name", required=True, help="客户端名称")
        sub.add_parser("list", help="列出全部 api_key（不含密钥本身）")
        revoke = sub.add_parser("revoke", help="停用某客户端的 api_key")
        revoke.add_argument("--name", required=True, help="客户端名称")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                key, raw = services.api_key_create(actor=None, name=options["name"])
                self.stdout.write(raw)
                self.stderr.write(
                    f"已为“{key.name}”签发 api_key（请立即妥善保存，系统不保存明文，无法再次显示）"
                )
            elif action == "list":
                for key in selectors.api_keys():
                    state = "有效" if key.active else "已停用"
                    self.stdout.write(f"{key.name}\t{state}\t{key.created_at:%Y-%m-%d %H:%M}")
            else:
                n = services.api_key_revoke(actor=None, name=options["name"])
                self.stdout.write(f"已停用 {n} 个 api_key")
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
