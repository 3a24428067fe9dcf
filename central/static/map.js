// RoadGuard maps, on the Leaflet the centre serves itself (/static/vendor/leaflet).
// - With the county's tile server configured, the points are drawn on its tiles.
// - With none (or no network to it), they are drawn on a plain grid of latitude and
//   longitude with a scale, so the map still tells "which side of the river" offline.
// Used by the map page (#map with #map-data) and the warden's place picker (report_form.js).
"use strict";

const RoadGuardMap = (() => {
  const COLOURS = { site: "#15233b", report: "#b26a00", urgent: "#b00020", nearby: "#6a4fb3", mine: "#1b7f3a" };

  // A step of 1, 2 or 5 times a power of ten, about `span / 5` degrees.
  function gridStep(span) {
    const rough = Math.max(span / 5, 1e-6);
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    for (const m of [1, 2, 5, 10]) if (m * power >= rough) return m * power;
    return 10 * power;
  }

  // `side`: where the label sits against its line ("east": left of the map's right edge,
  // clear of the zoom buttons and the scale, which are on the left).
  function label(text, at, side, layer) {
    L.marker(at, {
      icon: L.divIcon({ className: "grid-label", html: `<span class="${side}">${text}</span>`, iconSize: null }),
      interactive: false,
      keyboard: false,
    }).addTo(layer);
  }

  function graticule(map) {
    const layer = L.layerGroup().addTo(map);
    const draw = () => {
      layer.clearLayers();
      const b = map.getBounds();
      const step = gridStep(Math.max(b.getNorth() - b.getSouth(), b.getEast() - b.getWest()));
      const digits = Math.max(0, -Math.floor(Math.log10(step)));
      const line = { color: "#9aa3b5", weight: 1, opacity: 0.6, interactive: false };
      for (let lat = Math.ceil(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step) {
        L.polyline([[lat, b.getWest()], [lat, b.getEast()]], line).addTo(layer);
        label(`${lat.toFixed(digits)}°`, [lat, b.getEast()], "east", layer);
      }
      for (let lng = Math.ceil(b.getWest() / step) * step; lng <= b.getEast(); lng += step) {
        L.polyline([[b.getSouth(), lng], [b.getNorth(), lng]], line).addTo(layer);
        label(`${lng.toFixed(digits)}°`, [b.getNorth(), lng], "north", layer);
      }
    };
    // After the move is done: the vector renderer learns the new view in the same event.
    map.on("moveend", () => L.Util.requestAnimFrame(draw));
    return draw;
  }

  // A Leaflet map in `element`, on the configured tiles or on the plain grid.
  function create(element, config) {
    const map = L.map(element, { attributionControl: Boolean(config.tiles), maxZoom: config.max_zoom || 18 });
    if (config.tiles) {
      L.tileLayer(config.tiles, { maxZoom: config.max_zoom || 18, attribution: config.attribution || "" }).addTo(map);
    } else {
      element.classList.add("map-plain");
      graticule(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    return map;
  }

  function dot(at, kind, text, extra) {
    const marker = L.circleMarker(at, {
      radius: kind === "site" ? 9 : 7,
      color: "#fff",
      weight: 2,
      fillColor: COLOURS[kind],
      fillOpacity: 0.95,
      ...(extra || {}),
    });
    if (text) marker.bindTooltip(text);
    return marker;
  }

  // Show every point; one point (or none) gets a street-level view around it.
  function fit(map, points, fallback) {
    const places = points.filter((p) => p && Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (places.length > 1) map.fitBounds(L.latLngBounds(places), { padding: [30, 30], maxZoom: 16 });
    else if (places.length === 1) map.setView(places[0], 15);
    else map.setView(fallback || [35, 105], fallback ? 13 : 4);
  }

  function json(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  return { create, dot, fit, json, gridStep };
})();

// The map page: sites (with their open violations) and open field reports.
document.addEventListener("DOMContentLoaded", () => {
  const element = document.getElementById("map");
  const data = RoadGuardMap.json("map-data");
  if (!element || !data || typeof L === "undefined") return;
  const words = RoadGuardMap.json("map-words") || {};
  const map = RoadGuardMap.create(element, data);
  const points = [];
  for (const site of data.sites) {
    const text = `${site.name} · ${(words.open_violations || "{n}").replace("{n}", site.open)}`;
    const marker = RoadGuardMap.dot([site.lat, site.long], "site", text, site.open ? { color: "#b00020", weight: 3 } : null);
    marker.on("click", () => window.location.assign(`/queue?site=${encodeURIComponent(site.node_id)}`));
    marker.addTo(map);
    points.push([site.lat, site.long]);
  }
  for (const report of data.reports) {
    const text = `${report.category} · ${report.state} · ${report.at}`;
    const marker = RoadGuardMap.dot([report.lat, report.long], report.urgent ? "urgent" : "report", text);
    marker.on("click", () => window.location.assign(`/reports/${report.id}`));
    marker.addTo(map);
    points.push([report.lat, report.long]);
  }
  RoadGuardMap.fit(map, points, data.home);
  element.dataset.ready = String(points.length);
});
