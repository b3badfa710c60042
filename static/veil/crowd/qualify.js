// The qualification round's small editor: boxes in image pixels (the SVG's viewBox is the image), drag to
// draw, click to select, Delete removes, Enter (or the button) sends the boxes with the form.
const state = JSON.parse(document.getElementById("qualify-state").textContent).image;
const svg = document.getElementById("qualify-svg");
const layer = document.getElementById("qualify-boxes");
const draft = document.getElementById("qualify-draft");
const form = document.getElementById("qualify-form");
const count = document.getElementById("qualify-count");
const NS = "http://www.w3.org/2000/svg";
const started = performance.now();
const boxes = state.proposals.map((b) => b.slice());
let selected = null;
let drag = null;

function toImage(event) {
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const p = point.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.min(Math.max(p.x, 0), state.width), Math.min(Math.max(p.y, 0), state.height)];
}

function draw() {
  layer.replaceChildren();
  boxes.forEach((b, i) => {
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("class", "q-box" + (i === selected ? " selected" : ""));
    r.setAttribute("x", b[0]);
    r.setAttribute("y", b[1]);
    r.setAttribute("width", b[2] - b[0]);
    r.setAttribute("height", b[3] - b[1]);
    r.dataset.index = i;
    layer.appendChild(r);
  });
  count.textContent = `${boxes.length} box${boxes.length === 1 ? "" : "es"}`;
}

function removeSelected() {
  if (selected === null) return;
  boxes.splice(selected, 1);
  selected = null;
  draw();
}

svg.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  if (event.target.classList.contains("q-box")) {
    selected = Number(event.target.dataset.index);
    draw();
    return;
  }
  selected = null;
  drag = { from: toImage(event) };
  svg.setPointerCapture(event.pointerId);
  draw();
});

svg.addEventListener("pointermove", (event) => {
  if (!drag) return;
  const [x, y] = toImage(event);
  const [x0, y0] = drag.from;
  drag.box = [Math.min(x, x0), Math.min(y, y0), Math.max(x, x0), Math.max(y, y0)];
  draft.style.display = "";
  draft.setAttribute("x", drag.box[0]);
  draft.setAttribute("y", drag.box[1]);
  draft.setAttribute("width", drag.box[2] - drag.box[0]);
  draft.setAttribute("height", drag.box[3] - drag.box[1]);
});

svg.addEventListener("pointerup", () => {
  if (drag && drag.box && drag.box[2] - drag.box[0] >= 2 && drag.box[3] - drag.box[1] >= 2) {
    boxes.push(drag.box.map((v) => Math.round(v * 100) / 100));
    selected = boxes.length - 1;
  }
  drag = null;
  draft.style.display = "none";
  draw();
});

document.getElementById("qualify-delete").addEventListener("click", removeSelected);
document.addEventListener("keydown", (event) => {
  if (event.key === "Delete" || event.key === "Backspace") {
    event.preventDefault();
    removeSelected();
  } else if (event.key === "Tab" && boxes.length) {
    event.preventDefault();
    selected = selected === null ? 0 : (selected + (event.shiftKey ? boxes.length - 1 : 1)) % boxes.length;
    draw();
  } else if (event.key === "Enter") {
    event.preventDefault();
    form.requestSubmit();
  }
});

form.addEventListener("submit", () => {
  document.getElementById("qualify-boxes-input").value = JSON.stringify(boxes);
  document.getElementById("qualify-seconds").value = ((performance.now() - started) / 1000).toFixed(1);
});

draw();
