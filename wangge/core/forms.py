"""The base of the pages' forms: text limits the server enforces with a clear message.

Django's own message ("确保该变量包含不超过 2000 字符") names neither the field nor the length typed, and the
`maxlength` attribute it puts on the input makes the browser cut pasted text silently at the limit. Here
every `max_length` is checked by `TextLimitValidator` ("「处置说明」不能超过2000字（现在2345字）") and the
input carries `data-maxlength` instead, which static/wangge/counter.js shows as a counter.
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

# "意见（可选）" → "意见": the hint in a label's brackets does not belong in the message.
_LABEL_HINT = re.compile(r"\s*[（(][^（()）]*[）)]\s*$")


class TextLimitValidator(MaxLengthValidator):
    """max_length with the field's name and the length typed in the message."""

    message = _("「%(label)s」不能超过%(limit_value)d字（现在%(show_value)d字）")

    def __init__(self, limit_value: int, label: Any) -> None:
        super().__init__(limit_value)
        self.label = label

    def __call__(self, value: Any) -> None:
        length = self.clean(value)
        if self.compare(length, self.limit_value):
            label = _LABEL_HINT.sub("", str(self.label)) or str(self.label)
            raise ValidationError(
                self.message,
                code=self.code,
                params={
                    "label": label,
                    "limit_value": self.limit_value,
                    "show_value": length,
                    "value": value,
                },
            )


class Form(forms.Form):
    """forms.Form whose text limits are `TextLimitValidator`s and shown by a counter, never cut."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            limit = getattr(field, "max_length", None)
            if not limit:
                continue
            field.validators = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]
            field.validators.append(TextLimitValidator(limit, field.label or name))
            attrs = field.widget.attrs
            if "maxlength" in attrs and not field.widget.is_hidden:
                attrs["data-maxlength"] = attrs.pop("maxlength")
