/* The triage page: one key per flag. The keys are a table (keys.js) the `?` help is drawn from; each has its
 * button or link. A resolution is posted with fetch (the same form the buttons post without the script) and
 * takes the tile, and every other tile of an image sent back, out of the grid; the next tile is selected.
 */
import { bindKeys, renderHelp } from "../review/keys.js";

const grid = document.getElementById("triage");
const status = document.getElementById("tr-status");
let selected = 0;

const tiles = () => [...grid.querySelectorAll(".tr-tile")];

function select(i) {
  const all = tiles();
  if (!all.length) {
    status.textContent = grid.dataset.nextUrl ? "This page is done: N opens the next." : "No open flag left on this page.";
    return;
  }
  selected = Math.max(0, Math.min(all.length - 1, i));
  all.forEach((t, n) => t.classList.toggle("selected", n === selected));
  all[selected].scrollIntoView({ block: "nearest" });
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function resolve(tile, resolution) {
  if (!tile) return;
  const body = new FormData();
  body.append("kind", tile.dataset.kind);
  body.append("flag", tile.dataset.flag);
  body.append("resolution", resolution);
  tile.classList.add("busy");
  let res, data;
  try {
    res = await fetch(grid.dataset.resolveUrl, {
      method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    });
    data = await res.json();
  } catch (err) {
    res = { ok: false };
    data = { detail: "The server could not be reached; nothing was changed." };
  }
  tile.classList.remove("busy");
  if (!res.ok) {
    status.textContent = data.detail;
    return;
  }
  const gone = new Set((data.sent_back || []).map(String));
  const at = tiles().indexOf(tile);
  for (const t of tiles()) if (t === tile || gone.has(t.dataset.image)) t.remove();
  status.textContent = gone.size ? `Sent back to review: ${tile.querySelector(".tr-name").textContent}` : "Marked as not a face.";
  select(at);
}

const current = () => tiles()[selected];
const bindings = [
  { keys: ["f"], label: [["F"]], does: "A face: send the image back to review (its other flags go with it)", mouse: "Face button", run: () => resolve(current(), "face") },
  { keys: ["x"], label: [["X"]], does: "Not a face: never flagged again, and the release gate learns from it", mouse: "Not a face button", run: () => resolve(current(), "not_face") },
  { keys: ["j", "ArrowRight", "ArrowDown"], label: [["J"], ["→"]], does: "Next crop", mouse: "click a crop", run: () => select(selected + 1) },
  { keys: ["k", "ArrowLeft", "ArrowUp"], label: [["K"], ["←"]], does: "Previous crop", mouse: "click a crop", run: () => select(selected - 1) },
  { keys: ["Enter"], label: [["Enter"]], does: "Open the image with its boxes and flags", mouse: "the image's name", run: () => { if (current()) window.location.href = current().dataset.openUrl; } },
  { keys: ["n"], label: [["N"]], does: "Next page", mouse: "Next page link", run: () => { if (grid.dataset.nextUrl) window.location.href = grid.dataset.nextUrl; } },
  { keys: ["?"], label: [["?"]], does: "Show or hide this help", mouse: "", run: () => { const h = document.getElementById("tr-help"); h.hidden = !h.hidden; } },
  { keys: ["Escape"], label: [["Esc"]], does: "Close this help", mouse: "", run: () => { document.getElementById("tr-help").hidden = true; } },
];
bindKeys(bindings, document, { ignore: (e) => e.target.matches && e.target.matches("input[type=text], textarea") });
renderHelp(bindings, document.getElementById("tr-help-keys"));

grid.addEventListener("click", (e) => {
  const tile = e.target.closest(".tr-tile");
  if (tile && !e.target.closest("a, button")) select(tiles().indexOf(tile));
});
grid.addEventListener("submit", (e) => {
  e.preventDefault();
  const tile = e.target.closest(".tr-tile");
  select(tiles().indexOf(tile));
  resolve(tile, e.submitter ? e.submitter.value : "face");
});
select(0);
grid.classList.add("tr-ready");
