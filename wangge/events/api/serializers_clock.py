"""Serializers of the clock API: whistles (吹哨报到), extensions (延期), notifications."""

from rest_framework import serializers

from wangge.events.models import ExtensionRequest, Notification, TimeLimit, WhistleSummon


class WhistleBlowIn(serializers.Serializer):
    unit_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=50, help_text="被召集的处置单位"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class UnitRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class SummonOut(serializers.Serializer):
    id = serializers.IntegerField()
    unit = UnitRef()
    deadline = serializers.DateTimeField(help_text="报到时限")
    state = serializers.ChoiceField(choices=WhistleSummon.State.choices)
    state_display = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField()
    late = serializers.BooleanField(help_text="超过时限后才报到")


class WhistleEventRef(serializers.Serializer):
    id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    path = serializers.CharField()


class WhistleOut(serializers.Serializer):
    id = serializers.IntegerField()
    event = WhistleEventRef()
    level = serializers.CharField()
    blown_by = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    summons = SummonOut(many=True)
    came = SummonOut(many=True, help_text="已报到")
    waiting = SummonOut(many=True, help_text="待报到")
    missed = SummonOut(many=True, help_text="超时未报到")


class ExtensionIn(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=1000)
    unit = serializers.ChoiceField(choices=TimeLimit.Unit.choices, default=TimeLimit.Unit.WORKDAY)
    reason = serializers.CharField(max_length=2000)


class ExtensionDecideIn(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ExtensionOut(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = ExtensionRequest
        fields = [
            "id",
            "event",
            "stage",
            "amount",
            "unit",
            "reason",
            "state",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "old_deadline",
            "new_deadline",
        ]

    def get_requested_by(self, obj: ExtensionRequest) -> str:
        u = obj.requested_by
        return (u.display_name or u.get_username()) if u else ""

    def get_decided_by(self, obj: ExtensionRequest) -> str:
        u = obj.decided_by
        return (u.display_name or u.get_username()) if u else ""


class NotificationOut(serializers.ModelSerializer):
    event = serializers.SerializerMethodField()
    tracking_code = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "channel",
            "event",
            "tracking_code",
            "subject",
            "body",
            "state",
            "attempts",
            "next_attempt_at",
            "error",
            "created_at",
            "sent_at",
        ]

    def get_event(self, obj: Notification) -> int | None:
        return obj.event_id

    def get_tracking_code(self, obj: Notification) -> str:
        event = obj.event  # loaded for the whole page at once (notify.notifications_attach_events)
        return event.tracking_code if event is not None else ""
