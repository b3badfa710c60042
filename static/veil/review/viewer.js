/* The admin's image viewer: the review page's Editor over one image, with its final boxes to edit and every
 * other set of boxes Veil holds for it as layers to toggle. Save goes to the approval API (the same service
 * as the approval queue), carrying the revision the page was drawn at, so a stale save is a 409.
 */
import { jsonApi } from "./api.js";
import { showBanner } from "./banner.js";
import { editorBindings } from "./bindings.js";
import { Editor } from "./editor.js";
import { bindKeys, keyOf, renderHelp, showKeyHints } from "./keys.js";

const $ = (id) => document.getElementById(id);
const app = $("viewer-app");
const key = (name) => keyOf(bindings, name); // a key named in a sentence, from the table (bindings is set below)
const state = JSON.parse($("vw-initial").textContent);
const api = jsonApi("");
// Reviewers' colours: far from the editable boxes' green/yellow/blue/pink and the leaks' reds.
const PALETTE = ["#00e5ff", "#ff9f1c", "#b5f44a", "#f15bb5", "#9b5de5", "#fee440", "#00bbf9", "#ff595e", "#8ac926"];
let dirty = false; // the kept boxes differ from the saved final boxes

const rounded = (rects) => JSON.stringify(rects.map((r) => r.map((v) => Math.round(v * 100) / 100)));
const editor = new Editor($("rv-stage"), $("rv-svg"), () => {
  dirty = rounded(editor.keptBoxes().map((b) => b.rect)) !== rounded(state.final.boxes);
  refresh();
});
editor.candidates.shown = false; // a layer of the legend here, off until ticked

function finalModel(rects) {
  return rects.map((r) => ({ proposal: null, kind: "final", score: null, orig: r.slice(), rect: r.slice(), deleted: false }));
}

const missed = state.leaks.filter((k) => k.kind === "missed").map((k) => k.box);
const residual = state.leaks.filter((k) => k.kind === "residual").map((k) => k.box);
const layers = [
  { label: "Proposals (detector)", cls: "ov-proposal", rects: state.proposals.map((p) => p.box), shown: true },
  { label: "Candidates (unsure detector finds)", candidates: true, count: state.candidates.length },
  { label: "Leak check: possibly missed faces", cls: "ov-leak-missed", rects: missed, shown: true },
  { label: "Leak check: faces left inside a blurred box", cls: "ov-leak-residual", rects: residual, shown: true },
  ...state.reviews.map((r, i) => ({
    label: `Review by ${r.reviewer}${r.has_no_faces ? " (no faces here)" : ""}${r.is_unsure ? " (unsure)" : ""}`,
    cls: "ov-review", color: PALETTE[i % PALETTE.length], rects: r.boxes, shown: false,
  })),
  { label: "Gold: known faces", cls: "ov-gold", rects: state.gold, shown: true },
].filter((layer) => layer.candidates ? layer.count : layer.rects.length || layer.cls === "ov-proposal");

function drawOverlays() {
  editor.setOverlays(layers.filter((l) => !l.candidates));
}

function toggleLayer(i) {
  const layer = layers[i];
  if (!layer) return false;
  if (layer.candidates) editor.candidates.toggle();
  else layer.shown = !layer.shown;
  drawOverlays();
  refresh();
  return true;
}

function drawLegend() {
  const ul = $("vw-legend");
  ul.textContent = "";
  const editable = document.createElement("li");
  editable.innerHTML = '<span class="vw-swatch ov-final"></span> ';
  editable.append(`Final boxes, editable: ${state.final.source} (${state.final.boxes.length})`);
  ul.append(editable);
  layers.forEach((layer, i) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.layer = String(i);
    box.checked = layer.candidates ? editor.candidates.shown : layer.shown;
    box.addEventListener("change", () => { toggleLayer(i); box.blur(); });
    const swatch = document.createElement("span");
    swatch.className = `vw-swatch ${layer.candidates ? "ov-candidate" : layer.cls}`;
    if (layer.color) swatch.style.borderColor = layer.color;
    const n = layer.candidates ? layer.count : layer.rects.length;
    label.append(box, swatch, ` ${i < 9 ? `${i + 1} · ` : ""}${layer.label} (${n})`);
    li.append(label);
    ul.append(li);
  });
}

function banner(text, kind, offerReload) {
  const reload = () => {
    dirty = false;
    window.location.reload();
  };
  showBanner(text, kind || "info", offerReload ? { label: "Reload (drops your edits)", run: reload } : null);
}

function refresh() {
  const kept = editor.keptBoxes().length;
  $("rv-summary").textContent = `${kept} final box${kept === 1 ? "" : "es"} · ${dirty ? `changed, ${key("save")} saves them as approved` : "as saved"}`;
  $("rv-hide").setAttribute("aria-pressed", editor.hidden ? "true" : "false");
  $("rv-candbtn").setAttribute("aria-pressed", editor.candidates.shown ? "true" : "false");
  for (const box of document.querySelectorAll("#vw-legend input[data-layer]")) {
    const layer = layers[Number(box.dataset.layer)];
    box.checked = layer.candidates ? editor.candidates.shown : layer.shown;
  }
}

let saving = false;
async function save() {
  if (!state.can_save) {
    banner(`This image is ${state.status}: only reviewed or approved images take approved boxes.`, "warn");
    return;
  }
  if (saving) return;
  saving = true;
  const boxes = editor.keptBoxes().map((b) => b.rect.map((v) => Math.round(v * 100) / 100));
  const res = await api("POST", state.approve_url, { expected_revision: state.revision, boxes });
  saving = false;
  if (!res.ok) {
    banner(res.data.detail || `Not saved (${res.status}).`, "error", res.status === 409);
    return;
  }
  state.revision = res.data.image_revision;
  state.final = { source: `approved by ${res.data.approved_by} (set by an admin)`, boxes: res.data.boxes, is_approved: true };
  editor.load({ width: state.width, height: state.height, url: state.display_url }, { ...editor.model, boxes: finalModel(res.data.boxes) });
  dirty = false;
  $("vw-source").textContent = state.final.source;
  drawLegend();
  refresh();
  banner(`Saved: ${res.data.boxes.length} approved box${res.data.boxes.length === 1 ? "" : "es"}.`, "info");
}

function toggleHelp(show) {
  const help = $("rv-help");
  help.hidden = show === undefined ? !help.hidden : !show;
  $("rv-helpbtn").setAttribute("aria-pressed", help.hidden ? "false" : "true");
}

const actions = {
  save,
  undo: () => editor.undo(),
  redo: () => editor.redo(),
  delete: () => editor.deleteSelected(),
  grow: () => editor.scaleSelected(1.1),
  shrink: () => editor.scaleSelected(1 / 1.1),
  hide: () => { editor.hidden = !editor.hidden; editor.render(); refresh(); },
  candidates: () => { editor.candidates.toggle(); refresh(); },
  boxCandidate: () => editor.candidates.box() || banner(`No candidate selected or under the pointer: press ${key("candidates")} to show them, ${key("cycleCandidates")} to pick one.`, "info"),
  layer: (e) => toggleLayer(Number(e.key) - 1),
  help: () => toggleHelp(),
  closeHelp: () => toggleHelp(false),
  fit: () => editor.fit(),
  zoomIn: () => editor.zoomAt(1.25),
  zoomOut: () => editor.zoomAt(0.8),
  escape: () => { toggleHelp(false); editor.candidates.selected = null; editor.select(null); },
};

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", (e) => {
    e.preventDefault();
    button.blur();
    actions[button.dataset.action]();
  });
}

const bindings = editorBindings({
  actions,
  editor,
  texts: {
    save: { does: "Save the boxes shown as this image's approved boxes", mouse: "Save as approved button" },
    candidates: { does: "Show or hide candidates (dashed violet): places the detector was unsure of" },
  },
});
bindKeys(bindings, document, { ignore: (e) => e.target.matches && e.target.matches("input[type=text], textarea") });
renderHelp(bindings, $("rv-help-keys"));
showKeyHints(bindings, app);
document.addEventListener("keyup", (e) => {
  if (e.key === " ") editor.pointer.setSpaceHeld(false);
});
window.addEventListener("beforeunload", (e) => {
  if (dirty) e.preventDefault();
});

const model = {
  boxes: finalModel(state.final.boxes),
  candidates: state.candidates.map((c) => ({ id: c.id, score: c.score, source: c.source, rect: c.box.slice() })),
  noFaces: false,
  unsure: false,
};
const img = new Image();
img.src = state.display_url;
img.decode().catch(() => {}).then(() => {
  editor.load({ width: state.width, height: state.height, url: state.display_url }, model);
  drawOverlays();
  drawLegend();
  refresh();
  if (!state.can_save) banner(`This image is ${state.status}: you can look, but only reviewed or approved images take approved boxes.`, "warn");
  app.classList.add("rv-ready");
});
