/* The box editor's keyboard helpers: the side list's order (J / K walk it, Delete moves down it) and the aim the
 * digits narrow for P. Neither needs the mouse; both only drive the Editor through its methods. The Editor owns
 * one AimLayer.
 */
import { el } from "./geometry.js";

/* The side list's order: open candidates strongest first (to resolve), then the boxes weakest first (a false
 * positive is most often a low score: Delete, Delete removes a run of them), the boxes you drew last. */
export function listItems(editor) {
  const rank = (b) => (b.score === null || b.score === undefined ? 2 : b.score);
  const cands = editor.candidates.shown ? editor.candidates.ordered() : [];
  const boxes = editor.visibleBoxes().sort((a, b) => rank(a) - rank(b) || a.key - b.key);
  return [
    ...cands.map((c) => ({ kind: "candidate", id: c.id, rect: c.rect, score: c.score, source: c.source })),
    ...boxes.map((b) => ({ kind: "box", key: b.key, rect: b.rect, score: b.score, below: editor.isBelow(b), added: b.proposal === null })),
  ];
}

export function selectedIndex(editor, items) {
  return items.findIndex((it) => (it.kind === "box" ? it.key === editor.selected : it.id === editor.candidates.selected));
}

/* Select one row of the list (a box or a candidate), brought into view; null unselects. */
export function selectItem(editor, item) {
  if (!item) {
    editor.candidates.selected = null;
    editor.select(null);
    return;
  }
  editor.reveal(item.rect);
  if (item.kind === "box") editor.select(item.key);
  else editor.candidates.select(item.id);
}

/* J / K: the next or previous row of the list, round the end. */
export function stepList(editor, step) {
  const items = listItems(editor);
  if (!items.length) return false;
  const i = selectedIndex(editor, items);
  selectItem(editor, items[i < 0 ? (step > 0 ? 0 : items.length - 1) : (i + step + items.length) % items.length]);
  return true;
}

/* Digits 1-9 aim where P places the next box without the mouse: each picks that ninth of the region aimed at so
 * far (at first the image in view), 1 top-left to 9 bottom-right as on a phone's keypad. Four presses narrow a
 * 400 px photo to a cell of 5 px. The cell is drawn with its own nine numbered parts. */
export class AimLayer {
  constructor(editor, layer) {
    this.editor = editor;
    this.layer = layer;
    this.cell = null; // [x0, y0, x1, y1] in original pixels, or null: P places at the pointer
  }

  at(digit) {
    const [x0, y0, x1, y1] = this.cell || this.editor.viewRect();
    const col = (digit - 1) % 3, row = Math.floor((digit - 1) / 3);
    const w = (x1 - x0) / 3, h = (y1 - y0) / 3;
    this.cell = [x0 + col * w, y0 + row * h, x0 + (col + 1) * w, y0 + (row + 1) * h];
    this.editor.render();
    return true;
  }

  clear() {
    if (!this.cell) return false;
    this.cell = null;
    this.editor.render();
    return true;
  }

  /* The middle of the cell aimed at, for P, which spends the aim; null when nothing is aimed at. */
  take() {
    const c = this.cell;
    this.cell = null;
    return c ? [(c[0] + c[2]) / 2, (c[1] + c[3]) / 2] : null;
  }

  render(scale) {
    if (!this.layer) return;
    this.layer.textContent = "";
    if (!this.cell) return;
    const [x0, y0, x1, y1] = this.cell, w = (x1 - x0) / 3, h = (y1 - y0) / 3;
    el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "rv-aim-cell" }, this.layer);
    for (let i = 1; i < 3; i++) {
      el("line", { x1: x0 + i * w, y1: y0, x2: x0 + i * w, y2: y1, class: "rv-aim-line" }, this.layer);
      el("line", { x1: x0, y1: y0 + i * h, x2: x1, y2: y0 + i * h, class: "rv-aim-line" }, this.layer);
    }
    // The numbers only while a part is big enough on screen to read them.
    if (Math.min(w, h) * scale < 14) return;
    for (let d = 1; d <= 9; d++) {
      const cx = x0 + (((d - 1) % 3) + 0.5) * w, cy = y0 + (Math.floor((d - 1) / 3) + 0.5) * h;
      const t = el("text", { x: cx, y: cy, "font-size": Math.min(14 / scale, h / 2), class: "rv-aim-text" }, this.layer);
      t.textContent = String(d);
    }
  }
}
