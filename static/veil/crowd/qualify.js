/* The qualification round: the review page's own editor and key table (static/veil/review/), over one gold image.
 * What a worker learns here is what the review page does: the same keys, the same `?` help drawn from the same
 * table, the candidates shown the same way. Enter sends the kept boxes with the form.
 */
import { editorBindings } from "../review/bindings.js";
import { Editor } from "../review/editor.js";
import { bindKeys, renderHelp } from "../review/keys.js";

const $ = (id) => document.getElementById(id);
const state = JSON.parse($("qualify-state").textContent).image;
const form = $("qualify-form");
const started = performance.now();

function refresh() {
  const n = editor.keptBoxes().length;
  $("qualify-count").textContent = `${n} box${n === 1 ? "" : "es"}`;
  const open = editor.candidates.open().length;
  if (open) $("qualify-count").textContent += ` · ${open} open candidate${open === 1 ? "" : "s"} (F box it, X not a face)`;
}

const editor = new Editor($("rv-stage"), $("rv-svg"), refresh);

function toggleHelp(show) {
  const help = $("rv-help");
  help.hidden = show === undefined ? !help.hidden : !show;
  $("rv-helpbtn").setAttribute("aria-pressed", help.hidden ? "false" : "true");
}

const actions = {
  save: () => form.requestSubmit(),
  delete: () => editor.deleteSelected(),
  undo: () => editor.undo(),
  redo: () => editor.redo(),
  grow: () => editor.scaleSelected(1.1),
  shrink: () => editor.scaleSelected(1 / 1.1),
  hide: () => { editor.hidden = !editor.hidden; editor.render(); },
  help: () => toggleHelp(),
  closeHelp: () => toggleHelp(false),
  escape: () => { toggleHelp(false); editor.clearAim(); editor.candidates.selected = null; editor.select(null); },
  fit: () => editor.fit(),
  zoomIn: () => editor.zoomAt(1.25),
  zoomOut: () => editor.zoomAt(0.8),
  aim: (e) => editor.aimAt(Number(e.key)),
  candidates: () => editor.candidates.toggle(),
  boxCandidate: () => editor.candidates.box(),
  dismissCandidate: () => editor.candidates.dismiss(),
};
const bindings = editorBindings({
  actions,
  editor,
  texts: { save: { does: "Send your answer", mouse: "Send answer button" } },
});
bindKeys(bindings, document, { ignore: (e) => e.target.matches && e.target.matches("input[type=text], textarea") });
renderHelp(bindings, $("rv-help-keys"));
document.addEventListener("keyup", (e) => {
  if (e.key === " ") editor.pointer.setSpaceHeld(false);
});
for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", (e) => {
    e.preventDefault();
    button.blur();
    actions[button.dataset.action]();
  });
}

form.addEventListener("submit", () => {
  const boxes = editor.keptBoxes().map((b) => b.rect.map((v) => Math.round(v * 100) / 100));
  $("qualify-boxes-input").value = JSON.stringify(boxes);
  $("qualify-seconds").value = ((performance.now() - started) / 1000).toFixed(1);
});

editor.load({ width: state.width, height: state.height, url: state.url }, {
  boxes: state.proposals.map((r) => ({ proposal: null, kind: "proposal", score: null, orig: r.slice(), rect: r.slice(), deleted: false })),
  candidates: (state.candidates || []).map((c) => ({ id: c.id, score: c.score, source: c.source, rect: c.box.slice() })),
  noFaces: false,
  unsure: false,
});
refresh();
document.getElementById("qualify-work").classList.add("rv-ready");
