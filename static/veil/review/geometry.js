/* Rectangles in pixels of the displayed original, and the SVG element helper the editor draws with. */
export const SVGNS = "http://www.w3.org/2000/svg";
export const MIN_DRAW_SCREEN_PX = 4; // a smaller drag is a click
export const MIN_SIDE = 2; // original pixels; the server refuses boxes under 1 px

export function el(name, attrs, parent) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

export function clampRect(r, w, h) {
  const x0 = Math.max(0, Math.min(r[0], r[2])), x1 = Math.min(w, Math.max(r[0], r[2]));
  const y0 = Math.max(0, Math.min(r[1], r[3])), y1 = Math.min(h, Math.max(r[1], r[3]));
  return [x0, y0, x1, y1];
}

export function sameRect(a, b) {
  return !!a && !!b && a.every((v, i) => Math.abs(v - b[i]) < 0.01);
}

/* Move a rectangle by (dx, dy) without leaving the image and without changing its size. */
export function shiftRect(r, dx, dy, w, h) {
  const mx = Math.max(-r[0], Math.min(w - r[2], dx)), my = Math.max(-r[1], Math.min(h - r[3], dy));
  return [r[0] + mx, r[1] + my, r[2] + mx, r[3] + my];
}

export function contains(r, x, y) {
  return x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
}

export function area(r) {
  return (r[2] - r[0]) * (r[3] - r[1]);
}
