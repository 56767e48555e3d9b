"""Issue 18 A10a/b: text limits of the pages' forms — a clear Chinese message, a counter, nothing cut."""

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from wangge.events.forms import FeedbackForm, NoteForm, ReportForm
from wangge.events.forms_casework import SessionForm

pytestmark = pytest.mark.django_db  # the forms read their category choices


def test_the_message_names_the_field_the_limit_and_the_length_typed() -> None:
    with translation.override("zh-hans"):
        form = NoteForm(data={"note": "长" * 2345})
        assert not form.is_valid()
        assert form.errors["note"] == ["「说明」不能超过2000字（现在2345字）"]
        # A hint in brackets is not part of the name; forms with their own messages use the same one.
        form = SessionForm(data={"held_at": "2025-03-01T14:30", "mediator": "调" * 51, "summary": "好"})
        assert not form.is_valid() and form.errors["mediator"] == ["「调解员」不能超过50字（现在51字）"]
        assert "确保" not in str(FeedbackForm(data={"outcome": "x" * 2001}).errors)
        # At the limit: accepted, whole.
        form = NoteForm(data={"note": "长" * 2000})
        assert form.is_valid() and form.cleaned_data["note"] == "长" * 2000


def test_in_english_when_chosen() -> None:
    with translation.override("en"):
        errors = [str(e) for e in NoteForm(data={"note": "x" * 2001}).errors["note"]]
    assert errors == ["“Note” may have at most 2000 characters (it has 2001)"]


def test_inputs_carry_a_counter_attribute_not_a_cutting_maxlength() -> None:
    html = str(ReportForm()["description"])
    assert 'data-maxlength="2000"' in html and " maxlength=" not in html
    hidden = str(ReportForm()["idem"])  # a hidden field keeps its plain attribute: nobody types there
    assert "data-maxlength" not in hidden


def test_a_long_report_is_refused_with_the_message_and_the_text_kept(world: Any) -> None:
    text = "小区北门垃圾桶满溢" * 260  # 2340 characters
    resp = Client().post("/report/", {"description": text})
    page = resp.content.decode()
    assert resp.status_code in (200, 400)
    assert f"不能超过2000字（现在{len(text)}字）" in page
    assert text in page  # the textarea gives back everything typed: nothing lost, nothing cut
    # Every page loads the counter (a same-origin file: no inline script under the CSP).
    assert f"{settings.STATIC_URL}wangge/counter.js" in page
