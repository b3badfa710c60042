/* Veil box editor: an SVG whose user units are pixels of the displayed original.
 *
 * Why our own editor and not a library: zoom and pan are only a change of the SVG viewBox, so every pointer
 * position maps to original pixels through getScreenCTM() whatever the zoom or the size of the window; boxes
 * are never stored in screen units, which is the class of bug that saved resized boxes at ImageNet.
 *
 * The review page and the admin's image viewer both drive this one class; the mouse lives in editor-pointer.js,
 * candidates in editor-candidates.js.
 */
import { clampRect, el, MIN_SIDE, sameRect, shiftRect } from "./geometry.js";
import { CandidateLayer } from "./editor-candidates.js";
import { AimLayer, listItems, selectedIndex, selectItem, stepList } from "./editor-keyboard.js";
import { PointerInput } from "./editor-pointer.js";

const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export class Editor {
  constructor(stage, svg, onChange) {
    this.stage = stage;
    this.svg = svg;
    this.onChange = onChange || (() => {});
    this.img = svg.querySelector("#rv-img");
    this.blurImg = svg.querySelector("#rv-img-blur");
    this.clip = svg.querySelector("#rv-clip");
    this.blurFilter = svg.querySelector("#rv-blur feGaussianBlur");
    this.layer = svg.querySelector("#rv-boxes");
    this.goldLayer = svg.querySelector("#rv-gold");
    this.draft = svg.querySelector("#rv-draft");
    this.width = 1;
    this.height = 1;
    // Zoom relative to "fit" and the viewed centre as a share of the image: kept from one image to the next.
    this.zoom = 1;
    this.centre = [0.5, 0.5];
    this.threshold = 0;
    this.hideBelow = false;
    this.hidden = false;
    this.blur = false;
    this.model = { boxes: [], candidates: [], noFaces: false, unsure: false };
    this.undoStack = [];
    this.redoStack = [];
    this.selected = null;
    this.gold = [];
    this.overlays = []; // read-only layers (the viewer's proposals, reviews, leaks): {cls, rects, shown, label}
    this.overlayLayer = svg.querySelector("#rv-overlays");
    this.nextKey = 1;
    this.pointer = new PointerInput(this);
    this.candidates = new CandidateLayer(this, svg.querySelector("#rv-cands"));
    this.aim = new AimLayer(this, svg.querySelector("#rv-aim"));
    this.nudging = null; // the box the arrow keys are moving: a run of presses is one step of undo
    new ResizeObserver(() => this.applyView()).observe(stage);
  }

  /* --- loading ------------------------------------------------------------------------------------------ */
  load(image, model, history) {
    this.width = image.width;
    this.height = image.height;
    for (const node of [this.img, this.blurImg]) {
      node.setAttribute("width", image.width);
      node.setAttribute("height", image.height);
      node.setAttribute("href", image.url);
    }
    this.blurFilter.setAttribute("stdDeviation", Math.max(image.width, image.height) / 60);
    this.model = model;
    for (const b of model.boxes) if (!b.key) b.key = this.nextKey++;
    this.undoStack = history ? history.undo : [];
    this.redoStack = history ? history.redo : [];
    this.selected = null;
    this.candidates.selected = null;
    this.aim.cell = null;
    this.gold = [];
    this.pointer.reset();
    this.applyView();
  }

  history() {
    return { undo: this.undoStack, redo: this.redoStack };
  }

  /* --- view: zoom and pan are a viewBox ----------------------------------------------------------------- */
  fitScale() {
    const r = this.stage.getBoundingClientRect();
    return Math.min(r.width / this.width, r.height / this.height) || 1;
  }

  scale() {
    return this.fitScale() * this.zoom;
  }

  applyView() {
    const r = this.stage.getBoundingClientRect();
    if (!r.width || !r.height) return;
    const s = this.scale();
    const vw = r.width / s, vh = r.height / s;
    // Zoomed in, the image always fills the stage: panning stops at its edges instead of showing the void.
    const clampAxis = (c, view, size) => (view >= size ? 0.5 : Math.min(1 - view / size / 2, Math.max(view / size / 2, c)));
    this.centre = [clampAxis(this.centre[0], vw, this.width), clampAxis(this.centre[1], vh, this.height)];
    const cx = this.centre[0] * this.width, cy = this.centre[1] * this.height;
    this.svg.setAttribute("viewBox", `${cx - vw / 2} ${cy - vh / 2} ${vw} ${vh}`);
    this.svg.dataset.zoom = String(this.zoom); // read by the browser tests
    this.render();
  }

  fit() {
    this.zoom = 1;
    this.centre = [0.5, 0.5];
    this.applyView();
  }

  /* Zoom by `factor` keeping the image point under (clientX, clientY) where it is (the wheel). With no point
   * (the + and − keys and buttons), about the selected box or candidate, brought to the middle so that the
   * keyboard never zooms it out of view; with nothing selected, about the middle of the view. */
  zoomAt(factor, clientX, clientY) {
    const r = this.stage.getBoundingClientRect();
    // Up to 40x the fitted size, but never past 32 screen pixels per image pixel (tiny images fit large).
    const most = Math.max(1, Math.min(40, 32 / this.fitScale()));
    const zoom = Math.min(most, Math.max(0.2, this.zoom * factor));
    const focus = clientX === undefined ? this.focusRect() : null;
    if (focus) {
      this.zoom = zoom;
      this.centre = [(focus[0] + focus[2]) / 2 / this.width, (focus[1] + focus[3]) / 2 / this.height];
      this.applyView(); // which stops the view at the image's edges: a box there is in view, off the middle
      return;
    }
    if (clientX === undefined) {
      clientX = r.left + r.width / 2;
      clientY = r.top + r.height / 2;
    }
    const p = this.toImage(clientX, clientY);
    const s = this.fitScale() * zoom;
    const dx = clientX - (r.left + r.width / 2), dy = clientY - (r.top + r.height / 2);
    this.zoom = zoom;
    this.centre = [(p[0] - dx / s) / this.width, (p[1] - dy / s) / this.height];
    this.applyView();
  }

  /* The rectangle the keys work on: the selected box, else the selected candidate, else null. */
  focusRect() {
    const box = this.box(this.selected);
    if (box) return box.rect;
    const cand = this.candidates.selected === null ? null : this.candidates.open().find((c) => c.id === this.candidates.selected);
    return cand ? cand.rect : null;
  }

  panBy(dxScreen, dyScreen) {
    const s = this.scale();
    this.centre = [this.centre[0] - dxScreen / s / this.width, this.centre[1] - dyScreen / s / this.height];
    this.applyView();
  }

  toImage(clientX, clientY) {
    const m = this.svg.getScreenCTM().inverse();
    const p = new DOMPoint(clientX, clientY).matrixTransform(m);
    return [p.x, p.y];
  }

  /* --- the model and its history ----------------------------------------------------------------------- */
  rememberForUndo() {
    this.nudging = null;
    this.undoStack.push(JSON.stringify(this.model));
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack.length = 0;
  }

  /* A drag records the model as it was before it began, once the drag is over. */
  pushHistory(before) {
    this.undoStack.push(before);
    this.redoStack.length = 0;
  }

  _restore(from, to) {
    if (!from.length) return false;
    to.push(JSON.stringify(this.model));
    this.model = Object.assign(this.model, JSON.parse(from.pop()));
    if (!this.visibleBoxes().some((b) => b.key === this.selected)) this.selected = null;
    this.changed();
    return true;
  }

  undo() {
    return this._restore(this.undoStack, this.redoStack);
  }

  redo() {
    return this._restore(this.redoStack, this.undoStack);
  }

  changed() {
    this.render();
    this.onChange(this);
  }

  isBelow(b) {
    return b.proposal !== null && b.score < this.threshold && sameRect(b.rect, b.orig);
  }

  /* Boxes the reviewer sees and will save as kept. */
  keptBoxes() {
    return this.model.boxes.filter((b) => !b.deleted && !this.isBelow(b));
  }

  visibleBoxes() {
    return this.model.boxes.filter((b) => !b.deleted && !(this.hideBelow && this.isBelow(b)));
  }

  box(key) {
    return this.model.boxes.find((b) => b.key === key) || null;
  }

  select(key) {
    this.selected = key;
    this.nudging = null;
    if (key !== null) this.candidates.selected = null;
    this.render();
    this.onChange(this);
  }

  selectNext(step) {
    const boxes = this.visibleBoxes().sort((a, b) => a.rect[0] - b.rect[0] || a.rect[1] - b.rect[1]);
    if (!boxes.length) return;
    const i = boxes.findIndex((b) => b.key === this.selected);
    const next = i < 0 ? (step > 0 ? 0 : boxes.length - 1) : (i + step + boxes.length) % boxes.length;
    this.reveal(boxes[next].rect);
    this.select(boxes[next].key);
  }

  listItems() {
    return listItems(this);
  }

  selectedIndex(items) {
    return selectedIndex(this, items);
  }

  /* The side list (editor-keyboard.js): select a row; J / K step through them. */
  selectItem(item) {
    return selectItem(this, item);
  }

  stepList(step) {
    return stepList(this, step);
  }

  /* Zoomed in, Tab must not select a box the reviewer cannot see: bring it to the middle. */
  reveal(rect) {
    const r = this.stage.getBoundingClientRect(), s = this.scale();
    const cx = this.centre[0] * this.width, cy = this.centre[1] * this.height;
    const hw = r.width / s / 2, hh = r.height / s / 2;
    const [x0, y0, x1, y1] = rect;
    if (x0 >= cx - hw && x1 <= cx + hw && y0 >= cy - hh && y1 <= cy + hh) return;
    this.centre = [(x0 + x1) / 2 / this.width, (y0 + y1) / 2 / this.height];
    this.applyView();
  }

  /* A new box drawn (or placed from the keyboard): selected, and "no faces here" no longer holds. */
  addBox(rect, extra) {
    this.rememberForUndo();
    const box = { key: this.nextKey++, proposal: null, score: null, rect, orig: null, deleted: false, ...(extra || {}) };
    this.model.boxes.push(box);
    if (this.model.noFaces) this.model.noFaces = false;
    this.selected = box.key;
    this.changed();
    return box;
  }

  /* A new box at the pointer, or at the middle of the view when the pointer is off the image: the keyboard's
   * way to add a face (then arrows move it, Shift+arrows size it). It takes the median width and height of the
   * image's kept boxes (a face missed in a crowd is the size of the found ones: fewer Shift+arrows), else a
   * square an eighth of the view; never more than half the view. */
  placeBox() {
    const r = this.stage.getBoundingClientRect(), s = this.scale();
    const at = this.aim.take() || this.pointer.position() || [this.centre[0] * this.width, this.centre[1] * this.height];
    const viewSide = Math.min(r.width, r.height) / s;
    const median = (values) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
    const kept = this.keptBoxes();
    const size = (v, most) => Math.min(most, Math.max(4 * MIN_SIDE, Math.round(Math.min(v, viewSide / 2))));
    const w = size(kept.length ? median(kept.map((b) => b.rect[2] - b.rect[0])) : viewSide / 8, this.width);
    const h = size(kept.length ? median(kept.map((b) => b.rect[3] - b.rect[1])) : viewSide / 8, this.height);
    const x0 = Math.max(0, Math.min(this.width - w, Math.round(at[0] - w / 2)));
    const y0 = Math.max(0, Math.min(this.height - h, Math.round(at[1] - h / 2)));
    return this.addBox([x0, y0, x0 + w, y0 + h]);
  }

  /* The part of the image in view, in original pixels. */
  viewRect() {
    const r = this.stage.getBoundingClientRect(), s = this.scale();
    const cx = this.centre[0] * this.width, cy = this.centre[1] * this.height;
    const hw = r.width / s / 2, hh = r.height / s / 2;
    return [Math.max(0, cx - hw), Math.max(0, cy - hh), Math.min(this.width, cx + hw), Math.min(this.height, cy + hh)];
  }

  aimAt(digit) {
    return this.aim.at(digit);
  }

  clearAim() {
    return this.aim.clear();
  }

  /* Image pixels one arrow press moves or sizes a box by: about 4 screen pixels, whole pixels, ten times that
   * with Ctrl. */
  nudgeStep(big) {
    return Math.max(1, Math.round(4 / this.scale())) * (big ? 10 : 1);
  }

  /* Arrows: move the selected box by (dx, dy) steps; with `resize`, move its right or bottom edge instead. */
  nudgeSelected(dx, dy, { resize = false, big = false } = {}) {
    const box = this.box(this.selected);
    if (!box) return false;
    if (this.nudging !== box.key) {
      this.rememberForUndo();
      this.nudging = box.key;
    }
    const step = this.nudgeStep(big);
    if (resize) {
      const [x0, y0, x1, y1] = box.rect;
      box.rect = clampRect([x0, y0, Math.max(x0 + MIN_SIDE, x1 + dx * step), Math.max(y0 + MIN_SIDE, y1 + dy * step)], this.width, this.height);
    } else {
      box.rect = shiftRect(box.rect, dx * step, dy * step, this.width, this.height);
    }
    this.reveal(box.rect);
    this.changed();
    return true;
  }

  /* Delete the selected box, then select the next box down the list (Delete, Delete removes a run of weak
   * boxes); on a selected candidate, Delete says it is not a face (X). */
  deleteSelected() {
    const box = this.box(this.selected);
    if (!box) {
      const cand = this.candidates.open().find((c) => c.id === this.candidates.selected);
      return cand ? this.candidates.dismiss(cand) : false;
    }
    const at = this.selectedIndex(this.listItems());
    this.rememberForUndo();
    if (box.proposal === null) this.model.boxes = this.model.boxes.filter((b) => b !== box);
    else box.deleted = true;
    const items = this.listItems();
    const next = [items[at], items[at - 1]].find((it) => it && it.kind === "box") || null;
    this.selected = next ? next.key : null;
    if (next) this.reveal(next.rect);
    this.changed();
    return true;
  }

  /* Keyboard resize: grow or shrink the selected box about its centre (a tight box leaves face edges sharp). */
  scaleSelected(factor) {
    const box = this.box(this.selected);
    if (!box) return false;
    const [x0, y0, x1, y1] = box.rect;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const hw = Math.max(MIN_SIDE, (x1 - x0) * factor) / 2, hh = Math.max(MIN_SIDE, (y1 - y0) * factor) / 2;
    this.rememberForUndo();
    box.rect = clampRect([cx - hw, cy - hh, cx + hw, cy + hh], this.width, this.height);
    this.changed();
    return true;
  }

  setFlag(name, value) {
    this.rememberForUndo();
    this.model[name] = value;
    // "No faces here" and kept boxes contradict each other: marking it removes the boxes (undo brings them back).
    if (name === "noFaces" && value) {
      this.model.boxes = this.model.boxes.filter((b) => b.proposal !== null);
      for (const b of this.model.boxes) b.deleted = true;
      this.selected = null;
    }
    this.changed();
  }

  /* What the server stores: one fate per proposal, plus added boxes, in original pixels. */
  fates() {
    const out = [];
    for (const b of this.model.boxes) {
      const rect = b.rect.map((v) => Math.round(v * 100) / 100);
      if (b.proposal === null) {
        if (!b.deleted) out.push({ proposal: null, fate: "added", box: rect });
      } else if (b.deleted || this.isBelow(b)) out.push({ proposal: b.proposal, fate: "deleted" });
      else if (sameRect(b.rect, b.orig)) out.push({ proposal: b.proposal, fate: "accepted" });
      else out.push({ proposal: b.proposal, fate: "adjusted", box: rect });
    }
    return out;
  }

  setOverlays(overlays) {
    this.overlays = overlays;
    this.render();
  }

  showGold(rects) {
    this.gold = rects || [];
    this.render();
  }

  /* --- drawing -------------------------------------------------------------------------------------------- */
  render() {
    const s = this.scale();
    const layer = this.layer;
    layer.textContent = "";
    this.clip.textContent = "";
    layer.style.display = this.hidden ? "none" : "";
    this.svg.classList.toggle("rv-blurring", this.blur);
    const font = 12 / s, handle = 5 / s;
    this.candidates.render(s);
    for (const b of this.visibleBoxes()) {
      const [x0, y0, x1, y1] = b.rect;
      const below = this.isBelow(b);
      const unmoved = sameRect(b.rect, b.orig);
      const cls = ["rv-box", b.kind ? (unmoved ? b.kind : "adjusted") : b.proposal === null ? "added" : unmoved ? "proposal" : "adjusted"];
      if (b.candidate) cls.push("from-candidate");
      if (below) cls.push("below");
      if (b.key === this.selected) cls.push("selected");
      const g = el("g", { class: cls.join(" "), "data-key": b.key }, layer);
      el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "rv-body", "data-part": "body" }, g);
      // In a crowd the labels would cover the faces: small boxes show their score only when selected or zoomed.
      if (b.score !== null && b.score !== undefined && ((x1 - x0) * s >= 28 || b.key === this.selected)) {
        const t = el("text", { x: x0, y: y0 - 3 / s, "font-size": font, class: "rv-score" }, g);
        t.textContent = b.score.toFixed(2);
      }
      if (!below) el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, this.clip);
      if (b.key === this.selected) {
        for (const h of HANDLES) {
          const hx = h.includes("w") ? x0 : h.includes("e") ? x1 : (x0 + x1) / 2;
          const hy = h.includes("n") ? y0 : h.includes("s") ? y1 : (y0 + y1) / 2;
          el("rect", {
            x: hx - handle, y: hy - handle, width: 2 * handle, height: 2 * handle,
            class: `rv-handle h-${h}`, "data-part": h,
          }, g);
        }
      }
    }
    if (this.overlayLayer) {
      this.overlayLayer.textContent = "";
      this.overlayLayer.style.display = this.hidden ? "none" : "";
      for (const overlay of this.overlays) {
        if (!overlay.shown) continue;
        const g = el("g", { class: `rv-overlay ${overlay.cls}` }, this.overlayLayer);
        if (overlay.color) g.style.stroke = overlay.color;
        for (const [x0, y0, x1, y1] of overlay.rects) el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, g);
      }
    }
    this.aim.render(s);
    const gold = this.goldLayer;
    gold.textContent = "";
    for (const [x0, y0, x1, y1] of this.gold) {
      el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "rv-gold" }, gold);
      const t = el("text", { x: x0, y: y1 + font + 2 / s, "font-size": font, class: "rv-gold-text" }, gold);
      t.textContent = "you missed a face here";
    }
  }
}
