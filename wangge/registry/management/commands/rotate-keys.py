"""`wangge rotate-keys`: re-encrypt every stored personal value with the current key.

Key rotation, step by step (docs: WANGGE_ENCRYPTION_KEYS is "newid:newkey,oldid:oldkey"):
1. Put the new key FIRST in WANGGE_ENCRYPTION_KEYS and keep the old ones after it (they still decrypt).
2. Run `wangge rotate-keys`: every `*_enc` column is decrypted with whichever key it names and written
   again with the first key, in batches (each batch one transaction; the command can be re-run safely).
3. When it reports 0 values left on old keys, remove the old keys from the setting.

A new WANGGE_HASH_KEY cannot be derived from the old one: set the new hash key in the settings and run
`wangge rotate-keys --rehash`, which recomputes every `*_hash` column from the decrypted plaintext (it
needs only the encryption keys). Exact search works again once it finishes.
"""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction

from wangge.audit.services import audit_record
from wangge.core.crypto import keyring

# Hash columns whose name does not follow "<name>_enc" -> "<name>_hash".
_HASH_COLUMN = {"id_number_enc": "id_hash"}


def encrypted_columns() -> list[tuple[type[models.Model], list[tuple[str, str | None]]]]:
    """Every model with `*_enc` text columns, each with its hash column (if any)."""
    found = []
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        cols = []
        for field in model._meta.concrete_fields:
            if field.name.endswith("_enc") and isinstance(field, models.TextField):
                hash_col = _HASH_COLUMN.get(field.name, field.name[: -len("_enc")] + "_hash")
                cols.append((field.name, hash_col if hash_col in names else None))
        if cols:
            found.append((model, cols))
    return found


def rotate(*, batch_size: int = 500, rehash: bool = False) -> dict[str, int]:
    """Re-encrypt (and with `rehash`, re-hash) every encrypted value; returns counts per model."""
    ring = keyring()
    stats: dict[str, int] = {}
    for model, cols in encrypted_columns():
        label = model._meta.label
        changed_values = 0
        last_pk: Any = None
        while True:
            with transaction.atomic():
                qs = model._default_manager.order_by("pk")
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                rows = list(
                    qs.select_for_update().only("pk", *[c for pair in cols for c in pair if c])[:batch_size]
                )
                if not rows:
                    break
                last_pk = rows[-1].pk
                dirty = []
                for row in rows:
                    touched = False
                    for enc_col, hash_col in cols:
                        token = getattr(row, enc_col)
                        if not token:
                            continue
                        if ring.key_id_of(token) != ring.current_id or rehash:
                            plain = ring.decrypt(token)
                            if ring.key_id_of(token) != ring.current_id:
                                setattr(row, enc_col, ring.encrypt(plain))
                                changed_values += 1
                                touched = True
                            if rehash and hash_col:
                                setattr(row, hash_col, ring.digest(plain) if plain else None)
                                touched = True
                    if touched:
                        dirty.append(row)
                if dirty:
                    fields = [enc for enc, _ in cols] + ([h for _, h in cols if h] if rehash else [])
                    model._default_manager.bulk_update(dirty, fields)
        stats[label] = changed_values
    return stats


class Command(BaseCommand):
    help = "用当前密钥重新加密所有个人信息密文；--rehash 用当前哈希密钥重算检索哈希"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="每批处理的行数（默认 500）")
        parser.add_argument("--rehash", action="store_true", help="用当前 WANGGE_HASH_KEY 重算所有 *_hash 列")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, int(options["batch_size"]))
        stats = rotate(batch_size=batch, rehash=options["rehash"])
        with transaction.atomic():
            audit_record(
                actor=None,
                action="crypto.rotate_keys",
                after={
                    "key_id": keyring().current_id,
                    "rehash": bool(options["rehash"]),
                    "reencrypted": stats,
                },
            )
        for label, n in stats.items():
            self.stdout.write(f"{label}: 重新加密 {n} 个值")
        self.stdout.write(self.style.SUCCESS(f"完成：当前密钥 {keyring().current_id}"))
