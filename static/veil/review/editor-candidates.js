/* Candidates in the box editor: regions the detector scored under its threshold or found only on a recall pass.
 * Shown dimmed (on the review page without a key; the viewer starts them hidden), never saved as boxes by
 * themselves; one key turns the candidate under the pointer, or the selected one, into an added box (F, or a
 * double click), one says it is not a face (X). The Editor owns one CandidateLayer.
 */
import { area, contains, el } from "./geometry.js";

export class CandidateLayer {
  constructor(editor, layer, { shown = true } = {}) {
    this.editor = editor;
    this.layer = layer;
    this.shown = shown; // a view setting: kept from one image to the next
    this.selected = null; // candidate id
  }

  get all() {
    return this.editor.model.candidates || [];
  }

  /* A candidate is boxed while an added box made from it is kept (deleting that box brings it back). */
  isBoxed(c) {
    return !!c.boxedBefore || this.editor.model.boxes.some((b) => b.candidate === c.id && !b.deleted);
  }

  /* Open: neither boxed nor dismissed (X) in this review; what the list and the image show. */
  open() {
    return this.all.filter((c) => !this.isBoxed(c) && !c.dismissed);
  }

  /* The open candidates strongest first (score x height: a tall region the detector half believes first). */
  ordered() {
    const strength = (c) => c.score * (c.rect[3] - c.rect[1]);
    return this.open().sort((a, b) => strength(b) - strength(a) || a.id - b.id);
  }

  toggle(show) {
    this.shown = show === undefined ? !this.shown : show;
    if (!this.shown) this.selected = null;
    this.editor.changed();
  }

  select(id) {
    this.selected = id;
    if (id !== null) this.editor.selected = null;
    this.editor.changed();
  }

  /* Select the next (step 1) or previous open candidate, strongest first (the side list's order), showing
   * candidates if they were hidden. */
  cycle(step) {
    const open = this.ordered();
    if (!open.length) return false;
    this.shown = true;
    const i = open.findIndex((c) => c.id === this.selected);
    const next = open[i < 0 ? (step > 0 ? 0 : open.length - 1) : (i + step + open.length) % open.length];
    this.editor.reveal(next.rect);
    this.select(next.id);
    return true;
  }

  /* The open candidate at (x, y) in original pixels (the smallest, in a crowd), or null. */
  at(p) {
    if (!this.shown || !p) return null;
    const under = this.open().filter((c) => contains(c.rect, p[0], p[1])).sort((a, b) => area(a.rect) - area(b.rect));
    return under[0] || null;
  }

  /* The open candidate under the pointer, else the selected one. */
  target() {
    if (!this.shown) return null;
    return this.at(this.editor.pointer.position()) || this.open().find((c) => c.id === this.selected) || null;
  }

  /* Turn a candidate into an added box (selected, ready for the arrow keys); false when there is none. */
  box(candidate) {
    const c = candidate || this.target();
    if (!c) return false;
    this.selected = null;
    this.editor.addBox(c.rect.slice(), { candidate: c.id });
    return true;
  }

  /* X: the candidate under the pointer, or the selected one, is not a face. The next open one (in the list's
   * order) is selected, so X X X goes down the list; Ctrl+Z brings a dismissed one back. */
  dismiss(candidate) {
    const c = candidate || this.target();
    if (!c) return false;
    const order = this.ordered();
    const after = order[order.indexOf(c) + 1] || order[order.indexOf(c) - 1] || null;
    this.editor.rememberForUndo();
    c.dismissed = true;
    this.selected = after ? after.id : null;
    if (after) this.editor.reveal(after.rect);
    this.editor.changed();
    return true;
  }

  /* What the server stores, one fate per candidate shown: boxed, dismissed (X), or left (on screen at saving,
   * not resolved: its image stays flagged for a second look). Hidden ones (C) get none, unless resolved. */
  fates() {
    const out = [];
    for (const c of this.all) {
      if (this.isBoxed(c)) out.push({ id: c.id, fate: "boxed" });
      else if (c.dismissed) out.push({ id: c.id, fate: "dismissed" });
      else if (this.shown) out.push({ id: c.id, fate: "left" });
    }
    return out;
  }

  render(scale) {
    this.layer.textContent = "";
    this.layer.style.display = this.shown && !this.editor.hidden ? "" : "none";
    if (!this.shown) return;
    for (const c of this.open()) {
      const [x0, y0, x1, y1] = c.rect;
      const cls = ["rv-cand", c.source === "recall_pass" ? "recall" : "low"];
      if (c.id === this.selected) cls.push("selected");
      const g = el("g", { class: cls.join(" "), "data-cand": c.id }, this.layer);
      // A dark halo under the dashes keeps a dimmed candidate findable on a busy photo.
      el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "rv-cand-halo" }, g);
      el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "rv-cand-body" }, g);
      if ((x1 - x0) * scale >= 28 || c.id === this.selected) {
        const t = el("text", { x: x0, y: y1 + 13 / scale, "font-size": 11 / scale, class: "rv-cand-text" }, g);
        t.textContent = `? ${c.score.toFixed(2)}`;
      }
    }
  }
}
