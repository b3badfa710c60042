/* Veil box editor, mouse part: draw, select, move, resize with handles, pan, wheel zoom.
 * Positions go through getScreenCTM().inverse(), so they are pixels of the displayed original at any zoom.
 * It drives the Editor only through its methods; the Editor owns one PointerInput.
 */
import { clampRect, MIN_DRAW_SCREEN_PX, MIN_SIDE, sameRect, shiftRect } from "./geometry.js";

export class PointerInput {
  constructor(editor) {
    this.editor = editor;
    this.svg = editor.svg;
    this.drag = null;
    this.spaceHeld = false;
    this.last = null; // the pointer's last position over the image, in client pixels; null when it left
    const svg = this.svg;
    svg.addEventListener("pointerdown", (e) => this._down(e));
    svg.addEventListener("pointermove", (e) => this._move(e));
    svg.addEventListener("pointerup", (e) => this._up(e));
    svg.addEventListener("pointercancel", () => this._cancel());
    svg.addEventListener("pointerleave", () => { if (!this.drag) this.last = null; });
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      editor.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX, e.clientY);
    }, { passive: false });
  }

  reset() {
    this.drag = null;
  }

  setSpaceHeld(held) {
    this.spaceHeld = held;
    this.svg.classList.toggle("rv-pan-ready", held);
  }

  /* Where the pointer is, in original pixels, or null when it is not over the image. */
  position() {
    if (!this.last) return null;
    const [x, y] = this.editor.toImage(this.last.x, this.last.y);
    const { width, height } = this.editor;
    return x >= 0 && y >= 0 && x <= width && y <= height ? [x, y] : null;
  }

  _down(e) {
    if (e.button !== 0 && e.button !== 1) return;
    const editor = this.editor;
    e.preventDefault();
    this.svg.setPointerCapture(e.pointerId);
    const start = { x: e.clientX, y: e.clientY, p: editor.toImage(e.clientX, e.clientY) };
    if (this.spaceHeld || e.button === 1) {
      this.drag = { kind: "pan", last: start };
      this.svg.classList.add("rv-panning");
      return;
    }
    const target = e.target.closest("[data-key]");
    if (target && !editor.hidden) {
      const key = Number(target.dataset.key);
      const box = editor.box(key);
      const part = e.target.dataset.part || "body";
      if (editor.selected !== key) editor.select(key);
      this.drag = { kind: part === "body" ? "move" : "resize", part, box, start, from: box.rect.slice(), before: JSON.stringify(editor.model) };
      return;
    }
    // On a candidate, a click selects it; a drag still draws a box of the reviewer's own.
    const cand = e.target.closest("[data-cand]");
    this.drag = { kind: "draw", start, candidate: cand ? Number(cand.dataset.cand) : null };
  }

  _move(e) {
    this.last = { x: e.clientX, y: e.clientY };
    const d = this.drag, editor = this.editor;
    if (!d) return;
    if (d.kind === "pan") {
      editor.panBy(e.clientX - d.last.x, e.clientY - d.last.y);
      d.last = { x: e.clientX, y: e.clientY };
      return;
    }
    const p = editor.toImage(e.clientX, e.clientY);
    const dx = p[0] - d.start.p[0], dy = p[1] - d.start.p[1];
    if (d.kind === "draw") {
      const r = clampRect([d.start.p[0], d.start.p[1], p[0], p[1]], editor.width, editor.height);
      d.rect = r;
      Object.entries({ x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1] }).forEach(([k, v]) => editor.draft.setAttribute(k, v));
      editor.draft.style.display = "";
      return;
    }
    const [x0, y0, x1, y1] = d.from;
    let r;
    if (d.kind === "move") {
      r = shiftRect(d.from, dx, dy, editor.width, editor.height);
    } else {
      r = [x0, y0, x1, y1];
      if (d.part.includes("w")) r[0] = Math.min(x0 + dx, x1 - MIN_SIDE);
      if (d.part.includes("e")) r[2] = Math.max(x1 + dx, x0 + MIN_SIDE);
      if (d.part.includes("n")) r[1] = Math.min(y0 + dy, y1 - MIN_SIDE);
      if (d.part.includes("s")) r[3] = Math.max(y1 + dy, y0 + MIN_SIDE);
      r = clampRect(r, editor.width, editor.height);
    }
    d.box.rect = r;
    d.moved = true;
    editor.render();
  }

  _up(e) {
    const d = this.drag, editor = this.editor;
    this.drag = null;
    this.svg.classList.remove("rv-panning");
    editor.draft.style.display = "none";
    if (!d || d.kind === "pan") return;
    if (d.kind === "draw") {
      const far = Math.abs(e.clientX - d.start.x) >= MIN_DRAW_SCREEN_PX && Math.abs(e.clientY - d.start.y) >= MIN_DRAW_SCREEN_PX;
      if (far && d.rect && d.rect[2] - d.rect[0] >= MIN_SIDE && d.rect[3] - d.rect[1] >= MIN_SIDE) {
        editor.addBox(d.rect);
      } else if (d.candidate !== null) {
        // A second click on the same candidate within the double-click time boxes it. Counted here because
        // pointerdown's preventDefault keeps the browser from sending dblclick.
        const again = this.lastCandidateClick && this.lastCandidateClick.id === d.candidate && e.timeStamp - this.lastCandidateClick.at < 500;
        this.lastCandidateClick = again ? null : { id: d.candidate, at: e.timeStamp };
        if (again) editor.candidates.box(editor.candidates.all.find((c) => c.id === d.candidate));
        else editor.candidates.select(d.candidate);
      } else if (editor.selected !== null || editor.candidates.selected !== null) {
        editor.candidates.selected = null;
        editor.select(null);
      }
      return;
    }
    if (d.moved && !sameRect(d.box.rect, d.from)) {
      editor.pushHistory(d.before); // the history holds the model as it was before the drag
      editor.changed();
    }
  }

  _cancel() {
    if (this.drag && this.drag.box) this.drag.box.rect = this.drag.from;
    this.drag = null;
    this.editor.draft.style.display = "none";
    this.editor.render();
  }
}
