from rest_framework import serializers

from wangge.audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor_name",
            "actor_role",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "path",
            "before",
            "after",
            "reason",
            "ip",
        ]
        read_only_fields = fields
