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

  /* A map is a <div class="map" data-geojson="<json_script id>" data-grid-url="/grids/0/">.
     Tiles only when data-tile-url is set (an intranet tile server); otherwise a plain background. */
  function initMap(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var source = document.getElementById(el.dataset.geojson);
    var data = source ? JSON.parse(source.textContent) : null;
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
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
          lyr.bindTooltip(label, { sticky: true, direction: "top" });
        }
        if (!clickable) return;
        var url = gridUrl(template, feature);
        lyr.on("mouseover", function () { lyr.setStyle(STYLE_HOVER); });
        lyr.on("mouseout", function () { layer.resetStyle(lyr); });
        if (url) {
          lyr.on("click", function () { window.location.href = url; });
        }
      }
    }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [12, 12] });
    } else {
      map.setView([30.6, 114.3], 11);
    }
    el._wanggeMap = map;
  }

  function initAll(root) {
    (root || document).querySelectorAll(".map[data-geojson]").forEach(initMap);
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
