"""Small display helpers for templates. Masking itself lives in wangge.core.masking."""

from django import template
from django.utils.translation import gettext

from wangge.core.masking import mask_name
from wangge.core.roles import Role

register = template.Library()

_COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "grey", "gray"}


@register.filter
def role_label(code: str) -> str:
    """Role code to label, e.g. grid_worker -> 网格员 (unknown codes are shown as they are)."""
    try:
        return gettext(str(Role(code).label))
    except ValueError:
        return code


@register.filter
def tr(value: object) -> object:
    """A Chinese label that is a model choice or seeded data (status, action, stage, role) in the page's
    language where a translation exists; a name an installation typed itself is shown as it is."""
    return gettext(str(value)) if value else value  # gettext("") would be the catalogue's header


@register.filter
def badge_class(colour: str | None) -> str:
    """CSS class of a seven-colour plate badge; unknown colours get the neutral badge."""
    colour = (colour or "").strip().lower()
    return f"badge badge-{colour}" if colour in _COLOURS else "badge"


@register.filter
def masked_name(value: str | None) -> str:
    """张三丰 -> 张*丰 (for lists where the full name is not needed)."""
    return mask_name(value)
