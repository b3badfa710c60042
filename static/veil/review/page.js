/* Veil review page: fetches images and their boxes ahead of time, saves one request per image, wires keys.
 * The box editor itself is editor.js; the key table is bindings.js; this module knows the API
 * (api/views/review.py) and the page around the editor.
 */
import { jsonApi, preload } from "./api.js";
import { showBanner } from "./banner.js";
import { showSentBack } from "./sent-back.js";
import { editorBindings } from "./bindings.js";
import { Editor } from "./editor.js";
import { bindKeys, keyOf, renderHelp, showKeyHints } from "./keys.js";
import { renderList } from "./sidelist.js";

const app = document.getElementById("review-app");
const initial = JSON.parse(document.getElementById("rv-initial").textContent);
const api = jsonApi(app.dataset.apiBase); // /api/review/batches/<id>/
const $ = (id) => document.getElementById(id);
const key = (name) => keyOf(bindings, name); // a key named in a sentence, from the table (bindings is set below)

const cache = new Map(); // image id -> server state (proposals, my review, lease)
const work = new Map(); // image id -> unsaved edits {model, history, seconds}
const pending = new Set(); // ids whose save is in flight
const inflight = new Map(); // id -> Promise of that save's outcome (true when saved)
const saved = new Set(); // ids saved during this visit of the page
let switchStartedAt = 0; // when Enter was pressed, to measure how long the next image took to appear
let lastSwitchMs = null;
let navSerial = 0; // bumped by every show(): a slower, older navigation must not override a newer one
let current = null; // server state of the image on screen
let queued = null; // Promise of the next image that needs me (leased), fetched ahead
let shownAt = performance.now();
let afterGold = false; // the gold feedback is on screen; Enter moves on without saving again

const editor = new Editor($("rv-stage"), $("rv-svg"), onEdit);

async function stateOf(id) {
  if (cache.has(id)) return cache.get(id);
  const res = await api("GET", `images/${id}`);
  if (!res.ok) throw new Error(res.data.detail);
  // An answer that left the server before a save of ours landed is older than what we hold: keep ours.
  if (!cache.has(id)) cache.set(id, res.data);
  preload(res.data.display_url);
  return cache.get(id);
}

/* The editor's model from the server state: my saved review when I reopen, else the proposals. */
function modelOf(state) {
  const fates = new Map();
  let added = [];
  if (state.review) {
    for (const b of state.review.boxes) {
      if (b.proposal === null) added.push(b.box);
      else fates.set(b.proposal, b);
    }
  }
  const boxes = state.proposals.map((p) => {
    const f = fates.get(p.id);
    return {
      proposal: p.id, score: p.score, orig: p.box.slice(), deleted: !!f && f.fate === "deleted",
      rect: f && f.fate === "adjusted" ? f.box.slice() : p.box.slice(),
    };
  });
  for (const box of added) boxes.push({ proposal: null, score: null, orig: null, rect: box.slice(), deleted: false });
  // A candidate I boxed before stays boxed: its box is one of my added boxes now, not linked to it any more.
  const before = new Map(((state.review && state.review.candidates) || []).map((c) => [c.candidate, c.fate]));
  const candidates = (state.candidates || []).map((c) => ({
    id: c.id, score: c.score, source: c.source, rect: c.box.slice(),
    boxedBefore: before.get(c.id) === "boxed", dismissed: before.get(c.id) === "dismissed",
  }));
  return {
    boxes,
    candidates,
    noFaces: !!(state.review && state.review.has_no_faces),
    unsure: !!(state.review && state.review.is_unsure),
  };
}

/* --- showing an image --------------------------------------------------------------------------------------- */
function stashCurrent() {
  if (!current) return;
  const w = work.get(current.id);
  if (w) w.seconds += (performance.now() - shownAt) / 1000;
}

async function show(state, { message, kind, reload } = {}) {
  stashCurrent();
  const serial = ++navSerial;
  await preload(state.display_url);
  if (serial !== navSerial) return;
  current = state;
  cache.set(state.id, state);
  let w = work.get(state.id);
  const fresh = !w;
  if (!w) {
    w = { model: modelOf(state), history: { undo: [], redo: [] }, seconds: 0, dirty: false };
    work.set(state.id, w);
  }
  afterGold = false;
  showSentBack(state); // before the editor fits the image: the line takes its height from the stage
  editor.load({ width: state.width, height: state.height, url: state.display_url }, w.model, w.history);
  // Sent back for a flag: the flagged places (candidates) are selected from the first, F or X at once.
  if (fresh && state.sent_back && !message) editor.candidates.cycle(1);
  shownAt = performance.now();
  if (switchStartedAt) {
    const started = switchStartedAt;
    switchStartedAt = 0;
    requestAnimationFrame(() => {
      lastSwitchMs = performance.now() - started;
      app.dataset.lastSwitchMs = String(lastSwitchMs); // read by bench/review.py
    });
  }
  $("rv-position").textContent = `${state.position} / ${state.total}`;
  $("rv-name").textContent = state.name;
  document.title = `Review ${state.position} / ${state.total} · Veil`;
  if (window.location.pathname !== state.page_url) history.replaceState(null, "", state.page_url);
  if (message) banner(message, kind || "info", reload);
  else if (!state.lease_error && state.sent_back && sentBackPlaces()) banner(sentBackPlaces(), "warn");
  else banner(state.lease_error || "", "warn");
  refreshStatus();
  if (needsLease(state)) renewLease(state);
  prefetchAround(state);
}

/* An image I have saved (or am saving) needs no lease: changing my answer takes none, and a lease of mine would
 * only hide the image from the other reviewers it still needs (reviews per image above 1). */
function needsLease(state) {
  return !state.lease_error && !state.review && !pending.has(state.id) && !saved.has(state.id);
}

async function renewLease(state) {
  const res = await api("POST", `images/${state.id}/lease`);
  if (current !== state) return;
  if (res.ok) {
    state.lease = res.data.token ? { token: res.data.token, expires_at: res.data.expires_at } : null;
    state.lease_error = null;
  } else {
    state.lease_error = res.data.detail;
    // A refusal the reviewer has not read yet stays on screen; the lease sentence only adds to it.
    if (!$("rv-banner").classList.contains("rv-error")) banner(res.data.detail, "warn");
  }
  refreshStatus();
}

function prefetchAround(state) {
  queued = api("POST", "next", { after: state.id, exclude: [state.id, ...pending] }).then((res) => {
    if (!res.ok || !res.data.image) return null;
    const next = res.data.image;
    if (!work.has(next.id) || !work.get(next.id).dirty) cache.set(next.id, next);
    preload(next.display_url);
    return next;
  });
  for (const id of [state.next_id, state.prev_id]) if (id && !pending.has(id)) stateOf(id).catch(() => {});
}

/* --- saving ------------------------------------------------------------------------------------------------------
 * Enter shows the next image at once and saves in the background: the reviewer never waits for the server. A
 * refused save brings the reviewer back to that image with the edits still on screen and the server's sentence.
 */
function saveAndNext() {
  if (!current) return;
  if (afterGold) return advance();
  if (current.lease_error || !current.can_save) {
    banner(current.lease_error || "This image can no longer be changed.", "warn");
    return;
  }
  if (pending.has(current.id)) {
    // Stepped back to an image whose save is still in flight: save again once it lands, on its new revision.
    const state = current;
    inflight.get(state.id).then((ok) => { if (ok && current === state) saveAndNext(); });
    return;
  }
  const state = current, w = work.get(state.id);
  const body = {
    lease_token: state.lease ? state.lease.token : "",
    revision: state.revision,
    boxes: editor.fates(),
    candidates: editor.candidates.fates(),
    has_no_faces: w.model.noFaces,
    is_unsure: w.model.unsure,
    seconds_spent: Math.round((w.seconds + (performance.now() - shownAt) / 1000) * 10) / 10,
  };
  pending.add(state.id);
  switchStartedAt = performance.now();
  lastSwitchMs = null;
  delete app.dataset.lastSwitchMs;
  refreshSaves();
  const request = api("POST", `images/${state.id}/review`, body).then((res) => saveDone(state, w, res));
  inflight.set(state.id, request);
  advance("", request);
}

async function saveDone(state, w, res) {
  pending.delete(state.id);
  refreshSaves();
  if (!res.ok) {
    w.seconds = 0;
    // Back to the refused image, edits untouched, and say why.
    await show(state, { message: res.data.detail || `Not saved (${res.status}).`, kind: "error", reload: res.status === 409 });
    return false;
  }
  saved.add(state.id);
  refreshSaves();
  // What the server now holds, so stepping back shows it and a second save carries the new revision.
  state.revision = res.data.revision;
  state.status = res.data.status;
  state.review = { id: res.data.review, has_no_faces: w.model.noFaces, is_unsure: w.model.unsure, boxes: [] };
  state.lease = null;
  cache.set(state.id, state);
  work.set(state.id, { model: w.model, history: w.history, seconds: 0, dirty: false });
  if (res.data.gold && res.data.gold.misses > 0) {
    const n = res.data.gold.misses;
    await show(state, {
      message: `Saved. This was a check image: you missed ${n} face${n > 1 ? "s" : ""} (orange). Press ${key("save")} to go on.`,
      kind: "warn",
    });
    editor.showGold(res.data.gold.missed_boxes);
    afterGold = true;
  }
  return true;
}

async function advance(message, request) {
  const from = current, serial = navSerial;
  let next = queued ? await queued : null;
  if (next && (saved.has(next.id) || pending.has(next.id) || next.id === from.id)) next = null;
  if (!next && request) {
    // Nothing fetched ahead (end of the batch, or a slow answer): wait for the save, then ask again.
    if (!(await request)) return;
  }
  if (!next) {
    const res = await api("POST", "next", { after: from.id, exclude: [from.id, ...pending] });
    next = res.ok ? res.data.image : null;
  }
  if (navSerial !== serial) return; // the reviewer moved on meanwhile, or a refusal brought them back
  if (!next) {
    banner(`Every image of this batch that needs you is done. Step back with ${key("prev")} to change an answer, or go to My batches.`, "done");
    refreshStatus();
    return;
  }
  await show(next, { message });
}

function refreshSaves() {
  const el = $("rv-saves");
  el.textContent = pending.size ? `saving ${pending.size} image${pending.size > 1 ? "s" : ""}…` : saved.size ? `${saved.size} saved` : "";
  el.dataset.pending = String(pending.size);
}

async function step(direction) {
  if (!current) return;
  const id = direction > 0 ? current.next_id : current.prev_id;
  if (!id) {
    banner(direction > 0 ? "This is the last image of the batch." : "This is the first image of the batch.", "info");
    return;
  }
  try {
    await show(await stateOf(id));
  } catch (err) {
    banner(err.message, "error");
  }
}

async function reloadCurrent() {
  if (!current) return;
  const id = current.id;
  cache.delete(id);
  work.delete(id);
  const state = await stateOf(id);
  current = null;
  await show(state, { message: "Reloaded: you see the image as saved now." });
}

/* --- page furniture ---------------------------------------------------------------------------------------------- */
// Who sent the image back and why is the line above the image (sent-back.js); the banner points at the places.
function sentBackPlaces() {
  const open = editor.candidates.open().length;
  if (!open) return "";
  return `Sent back with ${open} flagged place${open === 1 ? "" : "s"}: listed, the first selected: ${key("boxCandidate")} box it, ${key("dismissCandidate")} not a face, ${key("list")} the next.`;
}

function banner(text, kind, offerReload) {
  showBanner(text, kind || "info", offerReload ? { label: "Reload this image (drops your edits)", run: reloadCurrent } : null);
}

function onEdit() {
  if (current && work.has(current.id)) work.get(current.id).dirty = true;
  refreshStatus();
}

function refreshStatus() {
  if (!current || !work.has(current.id)) return;
  renderList(editor, $("rv-list-rows"), $("rv-list-count"));
  const model = work.get(current.id).model;
  const kept = editor.keptBoxes().length;
  const pressed = {
    "rv-noFaces": model.noFaces, "rv-unsure": model.unsure, "rv-hide": editor.hidden, "rv-blurbtn": editor.blur,
    "rv-candbtn": editor.candidates.shown,
  };
  for (const [id, on] of Object.entries(pressed)) $(id).setAttribute("aria-pressed", on ? "true" : "false");
  const parts = [`${kept} face box${kept === 1 ? "" : "es"}`];
  const open = editor.candidates.open().length;
  if (open) {
    const some = `${open} open candidate${open === 1 ? "" : "s"}`;
    parts.push(editor.candidates.shown ? `${some} (${key("boxCandidate")} box it, ${key("dismissCandidate")} not a face)` : `${some} hidden (${key("candidates")} shows)`);
  }
  if (model.noFaces) parts.push("no faces here");
  if (model.unsure) parts.push("unsure");
  const w = work.get(current.id);
  parts.push(w.dirty ? `changed, ${key("save")} saves` : current.review ? "your saved answer" : "not reviewed yet");
  $("rv-summary").textContent = parts.join(" · ");
}

function setThreshold(value) {
  editor.threshold = value;
  $("rv-threshold-value").textContent = value.toFixed(2);
  editor.render();
  refreshStatus();
}

function toggleHelp(show) {
  const help = $("rv-help");
  help.hidden = show === undefined ? !help.hidden : !show;
  $("rv-helpbtn").setAttribute("aria-pressed", help.hidden ? "false" : "true");
}

function noCandidate() {
  return `No candidate selected or under the pointer: ${key("cycleCandidates")} or ${key("list")} picks one.`;
}

function moveThreshold(step) {
  slider.value = String(Math.round((Number(slider.value) + step) * 100) / 100);
  setThreshold(Number(slider.value));
}

const actions = {
  save: saveAndNext,
  prev: () => step(-1),
  next: () => step(1),
  undo: () => editor.undo(),
  redo: () => editor.redo(),
  delete: () => editor.deleteSelected(),
  grow: () => editor.scaleSelected(1.1),
  shrink: () => editor.scaleSelected(1 / 1.1),
  hide: () => { editor.hidden = !editor.hidden; editor.render(); refreshStatus(); },
  blur: () => { editor.blur = !editor.blur; editor.render(); refreshStatus(); },
  noFaces: () => editor.setFlag("noFaces", !editor.model.noFaces),
  unsure: () => editor.setFlag("unsure", !editor.model.unsure),
  help: () => toggleHelp(),
  closeHelp: () => toggleHelp(false),
  fit: () => editor.fit(),
  zoomIn: () => editor.zoomAt(1.25),
  zoomOut: () => editor.zoomAt(0.8),
  thresholdUp: () => moveThreshold(0.05),
  thresholdDown: () => moveThreshold(-0.05),
  escape: () => { toggleHelp(false); editor.clearAim(); editor.candidates.selected = null; editor.select(null); },
  candidates: () => editor.candidates.toggle(),
  nextCandidate: () => editor.candidates.cycle(1),
  boxCandidate: () => editor.candidates.box() || banner(noCandidate(), "info"),
  dismissCandidate: () => editor.candidates.dismiss() || banner(noCandidate(), "info"),
  aim: (e) => editor.aimAt(Number(e.key)),
  placeBox: () => editor.placeBox(),
};

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", (e) => {
    e.preventDefault();
    button.blur(); // keys go to the page, not to a focused button
    actions[button.dataset.action]();
  });
}

const slider = $("rv-threshold");
// The threshold and "hide below" hold from image to image but start at zero on every visit: a setting left
// from yesterday must not quietly delete today's low-score faces.
slider.value = "0";
slider.addEventListener("input", () => setThreshold(Number(slider.value)));
slider.addEventListener("change", () => slider.blur());
const hideBelow = $("rv-hide-below");
hideBelow.checked = false;
editor.hideBelow = hideBelow.checked;
hideBelow.addEventListener("change", () => {
  editor.hideBelow = hideBelow.checked;
  hideBelow.blur();
  editor.render();
});
actions.hideBelow = () => {
  hideBelow.checked = !hideBelow.checked;
  hideBelow.dispatchEvent(new Event("change"));
};

const bindings = editorBindings({ actions, editor });
bindKeys(bindings, document, { ignore: (e) => e.target.matches && e.target.matches("input[type=text], textarea") });
renderHelp(bindings, $("rv-help-keys"));
showKeyHints(bindings, app);
document.addEventListener("keyup", (e) => {
  if (e.key === " ") editor.pointer.setSpaceHeld(false);
});
window.addEventListener("beforeunload", (e) => {
  if ([...work.values()].some((w) => w.dirty)) e.preventDefault();
});

// Keep the lease while the reviewer works on one image for long, but not for a tab left open and forgotten:
// renew only when there was a key or pointer event since the last renewal.
let activeSinceRenewal = false;
for (const type of ["keydown", "pointerdown", "wheel"]) document.addEventListener(type, () => { activeSinceRenewal = true; }, true);
setInterval(() => {
  if (current && activeSinceRenewal && needsLease(current)) {
    activeSinceRenewal = false;
    renewLease(current);
  }
}, 1000 * (Number(app.dataset.leaseRenewSeconds) || 60)); // reviewer/jobs.py LEASE_RENEW_SECONDS

setThreshold(Number(slider.value));
show(initial).then(() => app.classList.add("rv-ready"));
