"""What the party app plugs into territory (registered by PartyConfig.ready(); territory never imports
party): building party groups and centre households follow a grid redraw, and party organisations left
on retired grids are pointed out."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from wangge.territory import hooks
from wangge.territory.models import Territory

from .models import OrgLevel, PartyOrg


def _follow_buildings(
    *, building_ids: list[int], path: str, grid_id: int | None, community: Territory
) -> Mapping[str, int]:
    moved = PartyOrg.objects.filter(
        Q(level=OrgLevel.BUILDING_GROUP, building_id__in=building_ids)
        | Q(level=OrgLevel.CENTRE_HOUSEHOLD, dwelling__building_id__in=building_ids)
    ).update(path=path, territory_id=grid_id or community.pk)
    return {"party_org": moved}


def _attention(retired: list[Territory]) -> Mapping[str, Any]:
    return {
        "party_orgs_on_retired_grids": list(
            PartyOrg.objects.filter(territory__in=retired).values_list("pk", flat=True)
        )
    }


def register() -> None:
    hooks.register_redraw_follower(
        hooks.RedrawFollower(name="party", on_buildings=_follow_buildings, attention=_attention)
    )
