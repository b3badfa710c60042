/* The review page's side list: every box and open candidate of the image, one row each with its score and size,
 * in the order J / K walk (editor.listItems). The selected row is the selected box or candidate on the image, and
 * the reverse: a click on a row selects it on the image, the row's ✕ deletes the box or dismisses the candidate.
 */

function row(item, editor, selected) {
  const li = document.createElement("li");
  li.className = `rv-row rv-row-${item.kind}${item.below ? " below" : ""}${selected ? " selected" : ""}`;
  li.setAttribute("role", "option");
  li.setAttribute("aria-selected", selected ? "true" : "false");
  if (item.kind === "box") li.dataset.key = String(item.key);
  else li.dataset.cand = String(item.id);
  const [x0, y0, x1, y1] = item.rect;
  const kind = document.createElement("span");
  kind.className = "rv-row-kind";
  kind.textContent = item.kind === "candidate" ? "candidate" : item.added ? "yours" : "box";
  const score = document.createElement("span");
  score.className = "rv-row-score";
  score.textContent = item.score === null || item.score === undefined ? "–" : item.score.toFixed(2);
  const size = document.createElement("span");
  size.className = "rv-row-size";
  size.textContent = `${Math.round(x1 - x0)}×${Math.round(y1 - y0)}`;
  const drop = document.createElement("button");
  drop.type = "button";
  drop.className = "rv-row-drop";
  drop.textContent = "✕";
  drop.title = item.kind === "candidate" ? "Not a face (X)" : "Delete this box (Delete)";
  li.append(kind, score, size, drop);
  li.addEventListener("click", (e) => {
    e.preventDefault();
    editor.selectItem(item);
    if (e.target === drop) editor.deleteSelected();
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur(); // keys stay the page's
  });
  return li;
}

export function renderList(editor, ul, count) {
  const items = editor.listItems();
  const at = editor.selectedIndex(items);
  ul.textContent = "";
  items.forEach((item, i) => ul.append(row(item, editor, i === at)));
  const open = items.filter((it) => it.kind === "candidate").length;
  count.textContent = `${items.length - open} box${items.length - open === 1 ? "" : "es"}${open ? `, ${open} open candidate${open === 1 ? "" : "s"}` : ""}`;
  const selected = ul.children[at];
  if (selected) selected.scrollIntoView({ block: "nearest" });
}
