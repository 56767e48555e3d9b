"""The grid map on a phone (390×844, headless Debian Chromium): grid names without hovering, the
worker's open events, the map opened on the worker's own grid, buildings at street zoom, no error text on
load and no request to any other host."""

from typing import Any

import pytest

from wangge.accounts.tests.test_browser import PHONE, _page, browser  # noqa: F401
from wangge.conftest import LAT0, LNG0, PASSWORD, STEP, centre
from wangge.events.tests.core_helpers import G111, G112, report, staff
from wangge.registry.services import building_create
from wangge.territory.models import Compound

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_grid_worker_map_on_a_phone(world: Any, live_server: Any, browser: Any) -> None:  # noqa: F811
    staff(world)
    mine = report("一号网格路灯不亮了，晚上很黑", at=G111)
    report("二号网格下水道堵了，污水漫出来", at=G112)
    compound = Compound.objects.create(
        code="C001", name="六合小区", community=world.c11, grid=world.g111, path=world.g111.path
    )
    lat, lng = centre(0, 0)
    building_create(
        actor=world.users.admin, code="B001", name="1栋", compound=compound, lat=lat + 0.001, lng=lng
    )

    outside: list[str] = []
    page = _page(browser, live_server, PHONE, outside)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "grid1")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login/" not in page.url
    page.goto(f"{live_server.url}/map/")

    # The grid's name is on the map without any hover (a permanent label).
    label = page.locator("#map .leaflet-tooltip.grid-label")
    label.first.wait_for(state="visible")
    assert label.all_inner_texts() == ["六合第一网格"]

    # Its open event, coloured, and not the neighbouring grid's.
    page.wait_for_selector("#map .event-marker")
    assert page.locator("#map .event-marker").count() == 1
    page.locator("#map .event-marker").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert mine.title in popup.inner_text()
    assert popup.locator("a").get_attribute("href") == f"/events/{mine.pk}/"

    # Opened on the worker's own grid.
    lat_c, lng_c = page.evaluate(
        "(() => { const c = document.getElementById('map')._wanggeMap.getCenter(); return [c.lat, c.lng]; })()"
    )
    assert LAT0 <= lat_c <= LAT0 + STEP and LNG0 <= lng_c <= LNG0 + STEP
    zoom = page.evaluate("document.getElementById('map')._wanggeMap.getZoom()")
    assert zoom >= 16, zoom

    # At that zoom the buildings and compounds are drawn with their names.
    page.wait_for_selector("#map .leaflet-tooltip.building-label")
    assert "1栋" in page.locator("#map .leaflet-tooltip.building-label").all_inner_texts()
    assert "六合小区" in page.locator("#map .leaflet-tooltip.compound-label").all_inner_texts()

    # No error and no setting name before anything was asked; nothing fetched from another host.
    body = page.inner_text("body")
    assert "WANGGE_" not in body
    assert "无法" not in body and "定位" not in page.inner_text("#map-note")
    assert page.locator(".error").count() == 0
    assert errors == [] and outside == []

    # The patrol form does not ask for the location by itself either.
    page.goto(f"{live_server.url}/events/patrol/new/")
    page.wait_for_selector("#pin-map .leaflet-tooltip.grid-label")
    page.wait_for_load_state("networkidle")
    assert page.locator("#pin-status.error").count() == 0
    assert "正在定位" not in page.inner_text("#pin-status")
    assert errors == [] and outside == []
