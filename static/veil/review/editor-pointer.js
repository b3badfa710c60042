/* Veil box editor, mouse part: draw, select, move, resize with handles, pan, wheel zoom.
 * Positions go through getScreenCTM().inverse(), so they are pixels of the displayed original at any zoom.
 */
(function () {
  "use strict";
  const Editor = window.VeilEditor;
  const { clampRect, sameRect, MIN_DRAW_SCREEN_PX, MIN_SIDE } = Editor;

  Object.assign(Editor.prototype, {
    _bindPointer() {
      const svg = this.svg;
      svg.addEventListener("pointerdown", (e) => this._down(e));
      svg.addEventListener("pointermove", (e) => this._move(e));
      svg.addEventListener("pointerup", (e) => this._up(e));
      svg.addEventListener("pointercancel", () => this._cancel());
      svg.addEventListener("wheel", (e) => {
        e.preventDefault();
        this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX, e.clientY);
      }, { passive: false });
    },

    _down(e) {
      if (e.button !== 0 && e.button !== 1) return;
      e.preventDefault();
      this.svg.setPointerCapture(e.pointerId);
      const start = { x: e.clientX, y: e.clientY, p: this.toImage(e.clientX, e.clientY) };
      if (this.spaceHeld || e.button === 1) {
        this.drag = { kind: "pan", last: start };
        this.svg.classList.add("rv-panning");
        return;
      }
      const target = e.target.closest("[data-key]");
      if (target && !this.hidden) {
        const key = Number(target.dataset.key);
        const box = this.model.boxes.find((b) => b.key === key);
        const part = e.target.dataset.part || "body";
        if (this.selected !== key) this.select(key);
        this.drag = { kind: part === "body" ? "move" : "resize", part, box, start, from: box.rect.slice(), before: JSON.stringify(this.model) };
        return;
      }
      this.drag = { kind: "draw", start };
    },

    _move(e) {
      const d = this.drag;
      if (!d) return;
      if (d.kind === "pan") {
        this.panBy(e.clientX - d.last.x, e.clientY - d.last.y);
        d.last = { x: e.clientX, y: e.clientY };
        return;
      }
      const p = this.toImage(e.clientX, e.clientY);
      const dx = p[0] - d.start.p[0], dy = p[1] - d.start.p[1];
      if (d.kind === "draw") {
        const r = clampRect([d.start.p[0], d.start.p[1], p[0], p[1]], this.width, this.height);
        d.rect = r;
        Object.entries({ x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1] }).forEach(([k, v]) => this.draft.setAttribute(k, v));
        this.draft.style.display = "";
        return;
      }
      const [x0, y0, x1, y1] = d.from;
      let r;
      if (d.kind === "move") {
        const mx = Math.max(-x0, Math.min(this.width - x1, dx)), my = Math.max(-y0, Math.min(this.height - y1, dy));
        r = [x0 + mx, y0 + my, x1 + mx, y1 + my];
      } else {
        r = [x0, y0, x1, y1];
        if (d.part.includes("w")) r[0] = Math.min(x0 + dx, x1 - MIN_SIDE);
        if (d.part.includes("e")) r[2] = Math.max(x1 + dx, x0 + MIN_SIDE);
        if (d.part.includes("n")) r[1] = Math.min(y0 + dy, y1 - MIN_SIDE);
        if (d.part.includes("s")) r[3] = Math.max(y1 + dy, y0 + MIN_SIDE);
        r = clampRect(r, this.width, this.height);
      }
      d.box.rect = r;
      d.moved = true;
      this.render();
    },

    _up(e) {
      const d = this.drag;
      this.drag = null;
      this.svg.classList.remove("rv-panning");
      this.draft.style.display = "none";
      if (!d || d.kind === "pan") return;
      if (d.kind === "draw") {
        const far = Math.abs(e.clientX - d.start.x) >= MIN_DRAW_SCREEN_PX && Math.abs(e.clientY - d.start.y) >= MIN_DRAW_SCREEN_PX;
        if (far && d.rect && d.rect[2] - d.rect[0] >= MIN_SIDE && d.rect[3] - d.rect[1] >= MIN_SIDE) {
          this.snapshot();
          const box = { key: this.nextKey++, proposal: null, score: null, rect: d.rect, orig: null, deleted: false };
          this.model.boxes.push(box);
          if (this.model.noFaces) this.model.noFaces = false;
          this.selected = box.key;
          this.changed();
        } else if (this.selected !== null) {
          this.select(null);
        }
        return;
      }
      if (d.moved && !sameRect(d.box.rect, d.from)) {
        // The history holds the model as it was before the drag.
        this.undoStack.push(d.before);
        this.redoStack.length = 0;
        this.changed();
      }
    },

    _cancel() {
      if (this.drag && this.drag.box) this.drag.box.rect = this.drag.from;
      this.drag = null;
      this.draft.style.display = "none";
      this.render();
    },
  });
})();
