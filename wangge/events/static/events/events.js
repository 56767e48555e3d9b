/* Event pages: map pin (我要说, hotline), GPS fix (patrol), a point on the event page.
   Leaflet from static/vendor; tiles only when data-tile-url is set; no outside requests. */
(function () {
  "use strict";

  var PIN = { radius: 9, color: "#c8102e", weight: 3, fillColor: "#c8102e", fillOpacity: 0.6 };
  var OUTLINE = { color: "#5c6670", weight: 1, fillOpacity: 0.04, interactive: false };
  var FOCUS = { color: "#c8102e", weight: 2, fillOpacity: 0.06, interactive: false };
  var DEFAULT_VIEW = [30.59, 114.30];

  function baseMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
    } else {
      el.classList.add("plain");
    }
    var src = el.dataset.outlines && document.getElementById(el.dataset.outlines);
    var layer = src ? L.geoJSON(JSON.parse(src.textContent), { style: function () { return OUTLINE; } }) : null;
    // data-focus: the worker's own grids (patrol), named and framed first instead of the whole district.
    var fsrc = el.dataset.focus && document.getElementById(el.dataset.focus);
    var focus = fsrc ? L.geoJSON(JSON.parse(fsrc.textContent), {
      style: function () { return FOCUS; },
      onEachFeature: function (feature, lyr) {
        var name = (feature.properties || {}).name;
        if (name) lyr.bindTooltip(name, { permanent: true, direction: "center", className: "grid-label", interactive: false });
      }
    }) : null;
    var bounds = focus ? focus.getBounds() : null;
    if (!(bounds && bounds.isValid())) bounds = layer ? layer.getBounds() : null;
    bounds = bounds && bounds.isValid() ? bounds : null;
    // A view first: vector layers cannot be drawn on a map without one.
    if (bounds) {
      map.fitBounds(bounds, { padding: [8, 8] });
    } else {
      map.setView(DEFAULT_VIEW, 12);
    }
    if (layer) layer.addTo(map);
    if (focus) focus.addTo(map);
    return { map: map, bounds: bounds };
  }

  function round6(x) { return Math.round(x * 1e6) / 1e6; }

  /* <div class="map pin-map" data-lat="id_lat" data-lng="id_lng" data-status="pin-status">: click/tap to
     place the pin; the hidden inputs get WGS-84 lat/lng. A [data-locate] button asks the device. */
  function initPin(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var latIn = document.getElementById(el.dataset.lat);
    var lngIn = document.getElementById(el.dataset.lng);
    var status = document.getElementById(el.dataset.status);
    var m = baseMap(el);
    var marker = null;

    function place(lat, lng, how) {
      latIn.value = round6(lat);
      lngIn.value = round6(lng);
      if (marker) {
        marker.setLatLng([lat, lng]);
      } else {
        marker = L.circleMarker([lat, lng], PIN).addTo(m.map);
      }
      if (status) {
        status.textContent = (how || "已选位置") + "：" + latIn.value + ", " + lngIn.value;
        status.classList.remove("error");
      }
      var clear = document.querySelector("[data-clear-pin='" + el.id + "']");
      if (clear) clear.hidden = false;
    }
    el._placePin = place;
    el._map = m.map;

    if (latIn.value && lngIn.value) {
      place(parseFloat(latIn.value), parseFloat(lngIn.value));
      m.map.setView([parseFloat(latIn.value), parseFloat(lngIn.value)], 17);
    }
    m.map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng); });

    document.querySelectorAll("[data-clear-pin='" + el.id + "']").forEach(function (btn) {
      btn.hidden = !latIn.value;
      btn.addEventListener("click", function () {
        latIn.value = ""; lngIn.value = "";
        if (marker) { m.map.removeLayer(marker); marker = null; }
        if (status) status.textContent = "未选位置";
        btn.hidden = true;
      });
    });

    // Only when the user presses the button: no permission prompt and no error before anything was asked.
    function locate() {
      if (!navigator.geolocation) {
        if (status) { status.textContent = "此设备不支持定位，请在地图上点选或填写地址"; status.classList.add("error"); }
        return;
      }
      if (status) status.textContent = "正在定位…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        // Browsers report WGS-84 (the GPS datum); that is what the server expects.
        place(pos.coords.latitude, pos.coords.longitude, "当前位置（精度约 " + Math.round(pos.coords.accuracy) + " 米）");
        m.map.setView([pos.coords.latitude, pos.coords.longitude], 17);
      }, function (err) {
        var why = err && err.code === 1 ? "未允许定位（可在浏览器设置中允许）" :
          err && err.code === 3 ? "定位超时" : "暂时无法获取位置";
        if (status) { status.textContent = why + "，请在地图上点选或填写地址"; status.classList.add("error"); }
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    }
    document.querySelectorAll("[data-locate='" + el.id + "']").forEach(function (btn) {
      btn.addEventListener("click", locate);
    });
  }

  /* <div class="map point-map" data-lat=".." data-lng=".."> shows one point. */
  function initPoint(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var m = baseMap(el);
    var lat = parseFloat(el.dataset.pointLat), lng = parseFloat(el.dataset.pointLng);
    L.circleMarker([lat, lng], PIN).addTo(m.map);
    m.map.setView([lat, lng], 16);
  }

  function initAll(root) {
    (root || document).querySelectorAll(".pin-map").forEach(initPin);
    (root || document).querySelectorAll(".point-map").forEach(initPoint);
  }

  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:load", function (e) { initAll(e.target); });

  /* Photo inputs: show how many were chosen (phones hide the file name). */
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-count]")) return;
    var out = document.getElementById(input.dataset.count);
    if (out) out.textContent = input.files.length ? "已选 " + input.files.length + " 张照片" : "";
  });

  /* Anonymous: hide and clear the contact fields. */
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-toggles]")) return;
    var target = document.getElementById(box.dataset.toggles);
    if (!target) return;
    target.hidden = box.checked;
    if (box.checked) target.querySelectorAll("input").forEach(function (i) { i.value = ""; });
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-toggles]").forEach(function (box) {
      var target = document.getElementById(box.dataset.toggles);
      if (target) target.hidden = box.checked;
    });
  });

  /* Prevent a double tap from posting twice (the Idempotency-Key makes it harmless anyway). */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches("form[data-once]")) return;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
    var btn = form.querySelector("button[type=submit]");
    if (btn) { btn.disabled = true; btn.textContent = btn.dataset.busy || "提交中…"; }
  });
})();
