/* Wangge — small page helpers. No build step, no outside requests (SPEC I6). */
(function () {
  "use strict";

  var STYLE = { color: "#c8102e", weight: 2, fillColor: "#c8102e", fillOpacity: 0.12 };
  var STYLE_HOVER = { weight: 3, fillOpacity: 0.28 };

  function featureId(feature) {
    var p = feature.properties || {};
    return p.id !== undefined ? p.id : feature.id;
  }

  function gridUrl(template, feature) {
    var p = feature.properties || {};
    if (p.url) return p.url;
    var id = featureId(feature);
    return id === undefined || id === null ? null : template.replace("/0/", "/" + id + "/");
  }

  var LIGHTS = { green: 1, yellow: 1, red: 1 };  /* colours in wangge.css (.event-green …) */
  var COMPOUND = { color: "#5c6670", weight: 1, dashArray: "4 3", fillColor: "#5c6670", fillOpacity: 0.06,
                   interactive: false };

  function el_(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  /* A popup built from DOM nodes (names come from users: never HTML). */
  function eventPopup(p) {
    var box = el_("div", "", "map-popup");
    box.appendChild(el_("b", p.title || "（无标题）"));
    box.appendChild(el_("div", p.status || ""));
    if (p.url) {
      var a = el_("a", "查看事件");
      a.href = p.url;
      box.appendChild(a);
    }
    return box;
  }

  function note(el, key, text) {
    var out = el.dataset.note && document.getElementById(el.dataset.note);
    if (!out) return;
    el._notes = el._notes || {};
    el._notes[key] = text;
    out.textContent = Object.keys(el._notes).map(function (k) { return el._notes[k]; }).filter(Boolean).join(" ");
  }

  /* A layer another app registered (data-layers: [{name, label, url, min_zoom}]): fetched for the
     visible box after each move, drawn as events (coloured points) or places (buildings, compounds). */
  function addRemoteLayer(el, map, spec) {
    var group = L.layerGroup().addTo(map);
    var seq = 0;
    function load() {
      var minZoom = spec.min_zoom || 0;
      if (map.getZoom() < minZoom) {
        group.clearLayers();
        note(el, spec.name, "");
        return;
      }
      var mine = ++seq;
      var url = spec.url + (spec.url.indexOf("?") < 0 ? "?" : "&") + "bbox=" +
        encodeURIComponent(map.getBounds().pad(0.1).toBBoxString());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (mine !== seq) return;
          group.clearLayers();
          if (!data) { note(el, spec.name, (spec.label || "") + "暂时无法加载"); return; }
          draw(spec.name, data);
        })
        .catch(function () { if (mine === seq) note(el, spec.name, (spec.label || "") + "暂时无法加载"); });
    }
    function draw(name, data) {
      var layer = L.geoJSON(data, {
        style: function () { return COMPOUND; },
        // Points are DOM markers (not SVG paths): they take a tap well and stay above the grid shapes.
        pointToLayer: function (feature, latlng) {
          var p = feature.properties || {};
          if (p.kind === "building") {
            return L.marker(latlng, { icon: L.divIcon({ className: "building-marker", iconSize: [8, 8] }),
                                      keyboard: false, title: p.name || "" });
          }
          var light = LIGHTS[p.light] ? p.light : "green";
          return L.marker(latlng, { icon: L.divIcon({ className: "event-marker event-" + light, iconSize: [16, 16] }),
                                    title: p.title || "", riseOnHover: true, zIndexOffset: 1000 });
        },
        onEachFeature: function (feature, lyr) {
          var p = feature.properties || {};
          if (p.kind === "building") {
            lyr.bindTooltip(p.name || "", { permanent: true, direction: "right", className: "building-label" });
            var text = (p.compound ? p.compound + " " : "") + (p.name || "") + (p.address ? "\n" + p.address : "");
            lyr.bindPopup(function () { var d = el_("div", text, "map-popup"); d.style.whiteSpace = "pre-line"; return d; });
          } else if (p.kind === "compound") {
            lyr.bindTooltip(p.name || "", { permanent: true, direction: "center", className: "compound-label" });
          } else {
            lyr.bindPopup(function () { return eventPopup(p); });
          }
        }
      }).addTo(group);
      if (name === "events" && typeof data.total === "number") {
        var rest = data.total - (data.shown || 0);
        note(el, name, "图上事件 " + (data.shown || 0) + " 件" + (rest > 0 ? "，另有 " + rest + " 件未显示（请放大地图）" : "") + "。");
      } else if (data.truncated) {
        note(el, name, "楼栋较多，仅显示一部分，请放大地图。");
      } else {
        note(el, name, "");
      }
    }
    var timer = null;
    map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(load, 250); });
    load();
  }

  /* "定位我": the device is asked only when the user presses the button; errors in plain words. */
  function locateMessage(err) {
    if (!err) return "此设备不支持定位";
    if (err.code === 1) return "未允许定位：请在浏览器设置中允许本网站使用位置";
    if (err.code === 3) return "定位超时，请到开阔处再试";
    return "暂时无法获取位置，请稍后再试";
  }

  function bindLocate(btn) {
    var el = document.getElementById(btn.dataset.locateMap);
    if (!el || btn.dataset.bound) return;
    btn.dataset.bound = "1";
    var marker = null;
    btn.addEventListener("click", function () {
      var map = el._wanggeMap;
      if (!map) return;
      if (!navigator.geolocation) { note(el, "locate", locateMessage(null)); return; }
      note(el, "locate", "正在定位…");
      navigator.geolocation.getCurrentPosition(function (pos) {
        var ll = [pos.coords.latitude, pos.coords.longitude];
        if (marker) marker.setLatLng(ll); else marker = L.circleMarker(ll, { radius: 7, color: "#1a73e8", fillOpacity: 0.8 }).addTo(map);
        map.setView(ll, Math.max(map.getZoom(), 16));
        note(el, "locate", "");
      }, function (err) { note(el, "locate", locateMessage(err)); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  /* A map is a <div class="map" data-geojson="<json_script id>" data-grid-url="/grids/0/">.
     Tiles only when data-tile-url is set (Wangge's own /tiles/ from an MBTiles file, or an intranet
     tile server); otherwise a plain background. Grid names are always shown (no hover on phones). */
  function initMap(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var source = document.getElementById(el.dataset.geojson);
    var data = source ? JSON.parse(source.textContent) : null;
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, maxNativeZoom: 18, attribution: el.dataset.tileAttribution || "" }).addTo(map);
    } else {
      el.classList.add("plain");
    }
    var template = el.dataset.gridUrl || "";
    var clickable = el.dataset.clickable !== "false";
    var layer = L.geoJSON(data, {
      style: function () { return STYLE; },
      onEachFeature: function (feature, lyr) {
        var p = feature.properties || {};
        var label = p.name || p.code || "";
        if (label) {
          // Permanent, at the polygon's centre: readable without a mouse.
          lyr.bindTooltip(label, { permanent: true, direction: "center", className: "grid-label", interactive: false });
        }
        if (!clickable) return;
        var url = gridUrl(template, feature);
        lyr.on("mouseover", function () { lyr.setStyle(STYLE_HOVER); });
        lyr.on("mouseout", function () { layer.resetStyle(lyr); });
        if (url) {
          lyr.on("click", function () { window.location.href = url; });
        }
      }
    });
    // Fit first: vector layers cannot be drawn on a map without a view. The grids are the caller's
    // own (scoped on the server), so a grid worker opens on their grid, community staff on theirs.
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [12, 12] });
    } else {
      map.setView([30.6, 114.3], 11);
    }
    layer.addTo(map);
    el._wanggeMap = map;
    var specs = el.dataset.layers && document.getElementById(el.dataset.layers);
    if (specs) {
      JSON.parse(specs.textContent).forEach(function (spec) { addRemoteLayer(el, map, spec); });
    }
  }

  function initAll(root) {
    (root || document).querySelectorAll(".map[data-geojson]").forEach(initMap);
    (root || document).querySelectorAll("[data-locate-map]").forEach(bindLocate);
  }

  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:load", function (e) { initAll(e.target); });

  /* After a reveal form swaps in, move focus to the new content (screen readers, keyboards). */
  document.addEventListener("htmx:load", function (e) {
    var el = e.target;
    if (el && el.classList && el.classList.contains("reveal")) {
      var focus = el.querySelector("[data-focus]");
      if (focus) focus.focus();
    }
  });
})();
