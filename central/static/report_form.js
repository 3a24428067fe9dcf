// RoadGuard warden form: made for a phone on a slow rural link.
// - every keystroke is kept in localStorage, so a lost page, a crash or a reload loses nothing;
// - the report is sent in the background: a failed send shows why and keeps the form as it is
//   (the photo included), ready to press Send again;
// - the phone's position fills lat/long (the server prefers a GPS position inside the photo).
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
  if (draft.lat) { form.querySelector("#lat").value = draft.lat; form.querySelector("#long").value = draft.long; }
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
      form.querySelector("#lat").value = pos.coords.latitude.toFixed(6);
      form.querySelector("#long").value = pos.coords.longitude.toFixed(6);
      status.textContent = t("position", { m: Math.round(pos.coords.accuracy) });
      saveDraft(form);
    },
    () => { status.textContent = t("no_position"); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
  );
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
