/* Veil review page: fetches images and their boxes ahead of time, saves one request per image, wires keys.
 * The box editor itself is editor.js; this file knows the API (api/views/review.py) and the keyboard.
 */
(function () {
  "use strict";
  const app = document.getElementById("review-app");
  const initial = JSON.parse(document.getElementById("rv-initial").textContent);
  const apiBase = app.dataset.apiBase; // /api/review/batches/<id>/
  const $ = (id) => document.getElementById(id);
  const store = window.localStorage;

  const cache = new Map(); // image id -> server state (proposals, my review, lease)
  const work = new Map(); // image id -> unsaved edits {model, history, seconds}
  const pixels = new Map(); // display url -> Promise of a decoded Image
  let current = null; // server state of the image on screen
  let queued = null; // Promise of the next image that needs me (leased), fetched ahead
  let shownAt = performance.now();
  let busy = false;
  let afterGold = false; // the gold feedback is on screen; Enter moves on without saving again

  const editor = new window.VeilEditor($("rv-stage"), $("rv-svg"), onEdit);

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function api(method, path, body) {
    const res = await fetch(apiBase + path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch (err) {
      data = { detail: `The server answered ${res.status} without details.` };
    }
    return { status: res.status, ok: res.ok, data };
  }

  function preload(url) {
    if (!pixels.has(url)) {
      const img = new Image();
      img.src = url;
      pixels.set(url, img.decode().then(() => img, () => img));
    }
    return pixels.get(url);
  }

  async function stateOf(id) {
    if (cache.has(id)) return cache.get(id);
    const res = await api("GET", `images/${id}`);
    if (!res.ok) throw new Error(res.data.detail);
    cache.set(id, res.data);
    preload(res.data.display_url);
    return res.data;
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
    return {
      boxes,
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

  async function show(state, { message } = {}) {
    stashCurrent();
    await preload(state.display_url);
    current = state;
    cache.set(state.id, state);
    let w = work.get(state.id);
    if (!w) {
      w = { model: modelOf(state), history: { undo: [], redo: [] }, seconds: 0, dirty: false };
      work.set(state.id, w);
    }
    afterGold = false;
    editor.load({ width: state.width, height: state.height, url: state.display_url }, w.model, w.history);
    shownAt = performance.now();
    $("rv-position").textContent = `${state.position} / ${state.total}`;
    $("rv-name").textContent = state.name;
    document.title = `Review ${state.position} / ${state.total} · Veil`;
    if (window.location.pathname !== state.page_url) history.replaceState(null, "", state.page_url);
    banner(message || state.lease_error || "", state.lease_error ? "warn" : "info");
    refreshStatus();
    if (!state.lease_error) renewLease(state);
    prefetchAround(state);
  }

  async function renewLease(state) {
    const res = await api("POST", `images/${state.id}/lease`);
    if (current !== state) return;
    if (res.ok) {
      state.lease = { token: res.data.token, expires_at: res.data.expires_at };
      state.lease_error = null;
    } else {
      state.lease_error = res.data.detail;
      banner(res.data.detail, "warn");
    }
    refreshStatus();
  }

  function prefetchAround(state) {
    queued = api("POST", "next", { after: state.id, exclude: [state.id] }).then((res) => {
      if (!res.ok || !res.data.image) return null;
      const next = res.data.image;
      if (!work.has(next.id) || !work.get(next.id).dirty) cache.set(next.id, next);
      preload(next.display_url);
      return next;
    });
    for (const id of [state.next_id, state.prev_id]) if (id) stateOf(id).catch(() => {});
  }

  /* --- saving ------------------------------------------------------------------------------------------------------ */
  async function saveAndNext() {
    if (busy || !current) return;
    if (afterGold) return advance();
    if (current.lease_error || !current.can_save) {
      banner(current.lease_error || "This image can no longer be changed.", "warn");
      return;
    }
    const state = current, w = work.get(state.id);
    const seconds = w.seconds + (performance.now() - shownAt) / 1000;
    busy = true;
    banner("Saving…", "info");
    const res = await api("POST", `images/${state.id}/review`, {
      lease_token: state.lease ? state.lease.token : "",
      revision: state.revision,
      boxes: editor.fates(),
      has_no_faces: w.model.noFaces,
      is_unsure: w.model.unsure,
      seconds_spent: Math.round(seconds * 10) / 10,
    });
    busy = false;
    if (current !== state) return;
    if (!res.ok) {
      // The reviewer's edits stay on screen: nothing is reloaded on a refusal.
      banner(res.data.detail || `Not saved (${res.status}).`, "error", res.status === 409);
      return;
    }
    work.delete(state.id);
    cache.delete(state.id);
    saved.add(state.id);
    if (res.data.gold && res.data.gold.misses > 0) {
      editor.showGold(res.data.gold.missed_boxes);
      const n = res.data.gold.misses;
      banner(`Saved. This was a check image: you missed ${n} face${n > 1 ? "s" : ""} (orange). Press Enter to go on.`, "warn");
      afterGold = true;
      work.set(state.id, { model: w.model, history: w.history, seconds: 0, dirty: false });
      return;
    }
    advance("Saved.");
  }
  const saved = new Set();

  async function advance(message) {
    let next = queued ? await queued : null;
    if (next && (saved.has(next.id) || next.id === current.id)) next = null;
    if (!next) {
      const res = await api("POST", "next", { after: current.id, exclude: [current.id] });
      next = res.ok ? res.data.image : null;
    }
    if (!next) {
      banner("Every image of this batch that needs you is done. Step back with A to change an answer, or go to My batches.", "info");
      refreshStatus();
      return;
    }
    await show(next, { message });
  }

  async function step(direction) {
    if (!current || busy) return;
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
  function banner(text, kind, offerReload) {
    const b = $("rv-banner");
    b.hidden = !text;
    b.className = `rv-banner rv-${kind || "info"}`;
    b.textContent = text || "";
    if (offerReload) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Reload this image (drops your edits)";
      button.addEventListener("click", reloadCurrent);
      b.append(" ", button);
    }
  }

  function onEdit() {
    if (current && work.has(current.id)) work.get(current.id).dirty = true;
    refreshStatus();
  }

  function refreshStatus() {
    if (!current) return;
    const model = work.get(current.id).model;
    const kept = editor.keptBoxes().length;
    const pressed = { "rv-noFaces": model.noFaces, "rv-unsure": model.unsure, "rv-hide": editor.hidden, "rv-blurbtn": editor.blur };
    for (const [id, on] of Object.entries(pressed)) $(id).setAttribute("aria-pressed", on ? "true" : "false");
    const parts = [`${kept} face box${kept === 1 ? "" : "es"}`];
    if (model.noFaces) parts.push("no faces here");
    if (model.unsure) parts.push("unsure");
    const w = work.get(current.id);
    parts.push(w.dirty ? "not saved yet" : current.review ? "saved earlier" : "not reviewed yet");
    $("rv-summary").textContent = parts.join(" · ");
  }

  function setThreshold(value) {
    editor.threshold = value;
    $("rv-threshold-value").textContent = value.toFixed(2);
    store.setItem("veil.threshold", String(value));
    editor.render();
    refreshStatus();
  }

  const actions = {
    save: saveAndNext,
    prev: () => step(-1),
    next: () => step(1),
    undo: () => editor.undo(),
    redo: () => editor.redo(),
    delete: () => editor.deleteSelected(),
    hide: () => { editor.hidden = !editor.hidden; editor.render(); refreshStatus(); },
    blur: () => { editor.blur = !editor.blur; editor.render(); refreshStatus(); },
    noFaces: () => editor.setFlag("noFaces", !editor.model.noFaces),
    unsure: () => editor.setFlag("unsure", !editor.model.unsure),
    help: () => { $("rv-help").hidden = !$("rv-help").hidden; },
    fit: () => editor.fit(),
    zoomIn: () => editor.zoomAt(1.25),
    zoomOut: () => editor.zoomAt(0.8),
  };

  for (const button of app.querySelectorAll("[data-action]")) {
    button.addEventListener("click", (e) => {
      e.preventDefault();
      button.blur(); // keys go to the page, not to a focused button
      actions[button.dataset.action]();
    });
  }

  const slider = $("rv-threshold");
  slider.value = store.getItem("veil.threshold") || "0";
  slider.addEventListener("input", () => setThreshold(Number(slider.value)));
  slider.addEventListener("change", () => slider.blur());
  const hideBelow = $("rv-hide-below");
  hideBelow.checked = store.getItem("veil.hideBelow") === "1";
  editor.hideBelow = hideBelow.checked;
  hideBelow.addEventListener("change", () => {
    editor.hideBelow = hideBelow.checked;
    store.setItem("veil.hideBelow", hideBelow.checked ? "1" : "0");
    hideBelow.blur();
    editor.render();
  });

  document.addEventListener("keydown", (e) => {
    if (e.target.matches && e.target.matches("input[type=text], textarea")) return;
    const key = e.key, ctrl = e.ctrlKey || e.metaKey;
    let handled = true;
    if (ctrl && (key === "z" || key === "Z")) (e.shiftKey ? actions.redo : actions.undo)();
    else if (ctrl && (key === "y" || key === "Y")) actions.redo();
    else if (ctrl || e.altKey) handled = false;
    else if (key === "Enter") actions.save();
    else if (key === "Tab") editor.selectNext(e.shiftKey ? -1 : 1);
    else if (key === "Delete" || key === "Backspace") actions.delete();
    else if (key === "a" || key === "A" || key === "ArrowLeft") actions.prev();
    else if (key === "d" || key === "D" || key === "ArrowRight") actions.next();
    else if (key === "h" || key === "H") actions.hide();
    else if (key === "b" || key === "B") actions.blur();
    else if (key === "n" || key === "N") actions.noFaces();
    else if (key === "u" || key === "U") actions.unsure();
    else if (key === "?") actions.help();
    else if (key === "f" || key === "F" || key === "0") actions.fit();
    else if (key === "+" || key === "=") actions.zoomIn();
    else if (key === "-") actions.zoomOut();
    else if (key === "Escape") { $("rv-help").hidden = true; editor.select(null); }
    else if (key === " ") { editor.spaceHeld = true; $("rv-svg").classList.add("rv-pan-ready"); }
    else handled = false;
    if (handled) e.preventDefault();
  });
  document.addEventListener("keyup", (e) => {
    if (e.key === " ") { editor.spaceHeld = false; $("rv-svg").classList.remove("rv-pan-ready"); }
  });
  window.addEventListener("beforeunload", (e) => {
    if ([...work.values()].some((w) => w.dirty)) e.preventDefault();
  });

  setThreshold(Number(slider.value));
  window.veilReview = { editor, state: () => current }; // for the browser tests and the console
  show(initial).then(() => app.classList.add("rv-ready"));
})();
