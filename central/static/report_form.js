// RoadGuard warden form: made for a phone on a slow rural link.
// - every keystroke is kept in localStorage, so a lost page, a crash or a reload loses nothing;
// - the report is sent in the background: a failed send shows why and keeps the form as it is
//   (the photo included), ready to press Send again;
// - the phone's position fills lat/long (the server prefers a GPS position inside the photo);
//   or the warden taps the place on the map (#pick-map);
// - once there is a place, the open reports near it are listed, so the same fallen tree is
//   not reported twice.
"use strict";

const DRAFT_KEY = "roadguard-report-draft";

// The page's words for what this script says, translated by the server (#form-messages).
function t(key, values) {
  const node = document.getElementById("form-messages");
  let text = (node ? JSON.parse(node.textContent)[key] : null) || key;
  for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
  return text;
}

function draftFields(form) {
  return Array.from(form.querySelectorAll("input, select, textarea")).filter(
    (el) => el.id && el.type !== "file" && el.type !== "hidden" && el.name !== "csrf_token"
  );
}

function saveDraft(form) {
  const draft = {};
  for (const el of draftFields(form)) {
    if (el.type === "radio" || el.type === "checkbox") draft[el.id] = el.checked;
    else if (el.multiple) draft[el.id] = Array.from(el.selectedOptions).map((o) => o.value);
    else draft[el.id] = el.value;
  }
  draft.lat = form.querySelector("#lat").value;
  draft.long = form.querySelector("#long").value;
  draft.position = form.querySelector("#position").value;
  try { localStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); } catch (err) { /* full */ }
}

function restoreDraft(form) {
  let draft = null;
  try { draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (err) { draft = null; }
  if (!draft) return false;
  for (const el of draftFields(form)) {
    if (!(el.id in draft)) continue;
    const value = draft[el.id];
    if (el.type === "radio" || el.type === "checkbox") el.checked = Boolean(value);
    else if (el.multiple) Array.from(el.options).forEach((o) => { o.selected = value.includes(o.value); });
    else el.value = value;
  }
  if (draft.lat) {
    form.querySelector("#lat").value = draft.lat;
    form.querySelector("#long").value = draft.long;
    form.querySelector("#position").value = draft.position || "";
  }
  return true;
}

function showCategory(form) {
  const picked = form.querySelector("input[name=service_code]:checked");
  for (const set of form.querySelectorAll("fieldset.attrs")) {
    const on = Boolean(picked) && set.dataset.category === picked.value;
    set.hidden = !on;
    set.disabled = !on;  // disabled fields are neither checked nor sent
    for (const el of set.querySelectorAll("[data-required]")) el.required = on;
  }
}

function locate(form, quiet) {
  const status = document.getElementById("geo-status");
  if (!navigator.geolocation) { status.textContent = t("no_geolocation"); return; }
  if (!quiet) status.textContent = t("finding");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      placeAt(form, pos.coords.latitude, pos.coords.longitude, "device");
      status.textContent = t("position", { m: Math.round(pos.coords.accuracy) });
    },
    () => { status.textContent = t("no_position"); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
  );
}

// The place picker: a tap on the map sets the place; the marker shows the place however
// it was set. Without Leaflet (an old phone) the form works as before.
let picker = null;

function startPicker(form) {
  const element = document.getElementById("pick-map");
  const config = typeof RoadGuardMap === "undefined" ? null : RoadGuardMap.json("map-config");
  if (!element || !config || typeof L === "undefined") { if (element) element.hidden = true; return; }
  const map = RoadGuardMap.create(element, config);
  for (const site of config.sites || []) RoadGuardMap.dot([site.lat, site.long], "site", site.name).addTo(map);
  const lat = parseFloat(form.querySelector("#lat").value);
  const long = parseFloat(form.querySelector("#long").value);
  const here = Number.isFinite(lat) && Number.isFinite(long) ? [lat, long] : null;
  RoadGuardMap.fit(map, here ? [here] : (config.sites || []).map((s) => [s.lat, s.long]), config.home);
  picker = { map, marker: null, nearby: L.layerGroup().addTo(map) };
  map.on("click", (event) => {
    placeAt(form, event.latlng.lat, event.latlng.lng, "map");
    document.getElementById("geo-status").textContent = t("picked");
  });
  if (here) { showPlace(here); showNearby(here); }
  element.dataset.ready = "1";
}

function showPlace(at) {
  if (!picker) return;
  if (picker.marker) picker.marker.setLatLng(at);
  else picker.marker = RoadGuardMap.dot(at, "mine", null, { radius: 10 }).addTo(picker.map);
}

function placeAt(form, lat, long, how) {
  form.querySelector("#lat").value = lat.toFixed(6);
  form.querySelector("#long").value = long.toFixed(6);
  form.querySelector("#position").value = how;
  saveDraft(form);
  showPlace([lat, long]);
  if (picker && how === "device") picker.map.setView([lat, long], Math.max(picker.map.getZoom(), 16));
  showNearby([lat, long]);
}

// Open reports near the place, from whoever filed them: what, its state, when, how far.
async function showNearby(at) {
  const box = document.getElementById("nearby");
  if (!box) return;
  let found = null;
  try {
    const response = await fetch(`/api/v1/reports/nearby?lat=${at[0]}&long=${at[1]}`, { credentials: "same-origin" });
    if (response.ok) found = await response.json();
  } catch (err) { found = null; }  // offline: filing goes on without the hint
  if (picker) picker.nearby.clearLayers();
  if (!found || !found.reports.length) { box.hidden = true; box.textContent = ""; return; }
  const title = document.createElement("p");
  title.textContent = t("nearby_title");
  const list = document.createElement("ul");
  for (const r of found.reports) {
    const item = document.createElement("li");
    item.textContent = t("nearby_item", { category: r.category, state: r.state, at: r.at, m: r.distance_m });
    list.appendChild(item);
    if (picker) RoadGuardMap.dot([r.lat, r.long], r.urgent ? "urgent" : "nearby", item.textContent).addTo(picker.nearby);
  }
  box.replaceChildren(title, list);
  box.hidden = false;
}

function say(text, bad) {
  const status = document.getElementById("send-status");
  status.hidden = false;
  status.textContent = text;
  status.classList.toggle("error", Boolean(bad));
}

async function send(form, button) {
  button.disabled = true;
  say(t("sending"));
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
    });
  } catch (err) {
    button.disabled = false;
    say(t("offline"), true);
    return;
  }
  button.disabled = false;
  const landed = new URL(response.url || form.action, window.location.href);
  if (response.ok && response.redirected && landed.pathname !== "/login") {
    localStorage.removeItem(DRAFT_KEY);
    window.location.assign(landed.href);
    return;
  }
  if (landed.pathname === "/login") {
    say(t("login_ended"), true);
    return;
  }
  const html = await response.text().catch(() => "");
  const errors = new DOMParser().parseFromString(html, "text/html").querySelector("#form-errors");
  const box = document.getElementById("form-errors");
  if (errors && box && errors.innerHTML.trim()) {
    box.innerHTML = errors.innerHTML;
    box.hidden = false;
    document.getElementById("send-status").hidden = true;
    box.scrollIntoView({ block: "start" });
  } else {
    say(t("refused", { status: response.status }), true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("[data-filed]")) localStorage.removeItem(DRAFT_KEY);
  const form = document.getElementById("report-form");
  if (!form) return;
  // The server's re-rendered values (after a refused send) win over the stored draft.
  if (!form.dataset.rerendered) restoreDraft(form);
  showCategory(form);
  startPicker(form);
  form.addEventListener("input", () => saveDraft(form));
  form.addEventListener("change", () => { showCategory(form); saveDraft(form); });
  document.getElementById("geo-button").addEventListener("click", () => locate(form, false));
  if (!form.querySelector("#lat").value) locate(form, true);
  else document.getElementById("geo-status").textContent = t("position_kept");
  const button = document.getElementById("send");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveDraft(form);
    send(form, button);
  });
});
