// RoadGuard central: the only script. Live queue refresh (polling with ETag) and keys.
"use strict";

function rows() { return Array.from(document.querySelectorAll("#queue tr.row")); }

function select(index) {
  const all = rows();
  if (!all.length) return;
  const i = Math.max(0, Math.min(all.length - 1, index));
  all.forEach((r) => r.classList.remove("selected"));
  all[i].classList.add("selected");
  all[i].focus();
}

function selectedIndex() { return rows().findIndex((r) => r.classList.contains("selected")); }

function pollQueue(box) {
  let etag = box.dataset.etag;
  const every = parseInt(box.dataset.pollMs, 10) || 5000;
  async function tick() {
    try {
      const response = await fetch(box.dataset.rowsUrl, {
        headers: { "If-None-Match": etag }, credentials: "same-origin",
      });
      if (response.status === 200) {
        const keep = selectedIndex();
        box.innerHTML = await response.text();
        etag = response.headers.get("ETag") || etag;
        box.dataset.etag = etag;
        box.dispatchEvent(new CustomEvent("queue-updated"));
        if (keep >= 0) select(keep);
      } else if (response.status === 401 || response.status === 403) {
        return;  // logged out: stop polling
      }
    } catch (err) { /* offline for a moment: try again next time */ }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
}

function typing(event) {
  const t = event.target;
  return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("queue");
  if (box) {
    pollQueue(box);
    box.addEventListener("click", (event) => {
      const row = event.target.closest("tr.row");
      if (row && event.target.tagName !== "A") window.location = row.dataset.href;
    });
  }
  const ticketForm = document.getElementById("ticket-form");
  const dismissForm = document.getElementById("dismiss-form");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key.toLowerCase();
    if (box) {
      if (key === "j") { select(selectedIndex() + 1); event.preventDefault(); }
      else if (key === "k") { select(selectedIndex() - 1); event.preventDefault(); }
      else if (key === "enter" && selectedIndex() >= 0) {
        window.location = rows()[selectedIndex()].dataset.href;
      }
      return;
    }
    if (ticketForm && key === "t") { ticketForm.requestSubmit(); }
    else if (dismissForm && /^[1-9]$/.test(key)) {
      const button = dismissForm.querySelector(`button[data-key="${key}"]`);
      if (button) dismissForm.requestSubmit(button);
    } else if (dismissForm && key === "o") {
      document.getElementById("dismiss-note").focus();
      event.preventDefault();
    } else if (key === "n") {
      const next = document.getElementById("next-link");
      if (next) window.location = next.href;
    } else if (key === "q") { window.location = "/queue"; }
  });

  const note = document.getElementById("dismiss-note");
  if (note && dismissForm) {
    note.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        dismissForm.requestSubmit(document.getElementById("dismiss-other"));
      }
    });
  }
});

// The undo toast after a decision: counts down, then goes (the decision is final).
document.addEventListener("DOMContentLoaded", () => {
  const toast = document.getElementById("undo-toast");
  if (!toast) return;
  const until = Date.now() + 1000 * Number(toast.dataset.seconds);  // the server's window
  const countdown = toast.querySelector(".countdown");
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) { toast.remove(); return; }
    countdown.textContent = `${left} s`;
    setTimeout(tick, 250);
  };
  tick();
  document.addEventListener("keydown", (event) => {
    if (event.key.toLowerCase() !== "u" || event.target.matches("input, textarea, select")) return;
    const button = document.getElementById("undo-button");
    if (button) button.click();
  });
});

// Urgent warden reports announce themselves on every page an officer or supervisor has open:
// a banner, and a short tone if they ask for sound (remembered on this browser).
function urgentAlerts(banner) {
  const every = parseInt(banner.dataset.pollMs, 10) || 5000;
  const sound = document.getElementById("urgent-sound");
  sound.checked = localStorage.getItem("roadguard-urgent-sound") === "1";
  sound.addEventListener("change", () => {
    localStorage.setItem("roadguard-urgent-sound", sound.checked ? "1" : "0");
  });
  let known = new Set();
  async function tick() {
    try {
      const response = await fetch(banner.dataset.url, { credentials: "same-origin" });
      if (response.status === 401 || response.status === 403) return;
      if (response.ok) {
        const { waiting, ids } = await response.json();
        banner.hidden = waiting === 0;
        banner.querySelector(".text").textContent =
          waiting === 1 ? banner.dataset.one : banner.dataset.many.replace("{n}", waiting);
        const fresh = ids.filter((id) => !known.has(id));
        if (fresh.length && sound.checked) beep();
        known = new Set(ids);
        document.dispatchEvent(new CustomEvent("urgent-checked", { detail: waiting }));
      }
    } catch (err) { /* offline for a moment */ }
    setTimeout(tick, every);
  }
  tick();
}

function beep() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  } catch (err) { /* no audio on this device */ }
}

document.addEventListener("DOMContentLoaded", () => {
  const banner = document.getElementById("urgent-alert");
  if (banner) urgentAlerts(banner);
});

// The evidence viewer: a picture opens large; arrows step through every picture of the
// episode (warning 1, warning 2, the violation), Escape closes.
document.addEventListener("DOMContentLoaded", () => {
  const viewer = document.getElementById("viewer");
  if (!viewer) return;
  const links = Array.from(document.querySelectorAll("a.zoom"));
  const image = document.getElementById("viewer-image");
  const caption = document.getElementById("viewer-caption");
  let at = 0;
  const show = (index) => {
    at = (index + links.length) % links.length;
    image.src = links[at].href;
    image.alt = links[at].querySelector("img").alt;
    caption.textContent = links[at].dataset.caption;
  };
  links.forEach((link, index) => link.addEventListener("click", (event) => {
    event.preventDefault();
    show(index);
    if (!viewer.open) viewer.showModal();
  }));
  document.getElementById("viewer-previous").addEventListener("click", () => show(at - 1));
  document.getElementById("viewer-next").addEventListener("click", () => show(at + 1));
  document.getElementById("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { event.preventDefault(); show(at + 1); }
    if (event.key === "ArrowLeft") { event.preventDefault(); show(at - 1); }
    event.stopPropagation();  // the page's own keys (t, 1-4, n) stay off while viewing
  });
});
