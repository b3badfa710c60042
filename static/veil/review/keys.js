/* Key bindings as one table: the keydown handler and the `?` help are both drawn from it.
 *
 * A binding is {keys, ctrl, shift, label, does, mouse, run}:
 *   keys   the KeyboardEvent.key values it answers (letters match either case);
 *   ctrl   true: needs Ctrl (or Cmd); false (default): refuses it; "any": either;
 *   shift  true / false, or undefined for either (Shift+Tab, "?" which needs Shift on most layouts);
 *   label  what the help shows: a list of alternatives, each a list of keys pressed together;
 *   does   one sentence for the help; mouse: how to do the same with the mouse;
 *   run(e) does it; returning false passes the key on to the next binding that answers it.
 */

function answers(binding, e) {
  const ctrl = e.ctrlKey || e.metaKey;
  const want = binding.ctrl === undefined ? false : binding.ctrl;
  if (want !== "any" && want !== ctrl) return false;
  if (binding.shift !== undefined && binding.shift !== e.shiftKey) return false;
  if (e.altKey && !binding.alt) return false;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  return binding.keys.some((k) => (k.length === 1 ? k.toLowerCase() : k) === key);
}

/* Listen on `target` (the document): the first binding that answers and does not decline takes the key. */
export function bindKeys(bindings, target, { ignore } = {}) {
  target.addEventListener("keydown", (e) => {
    if (ignore && ignore(e)) return;
    for (const binding of bindings) {
      if (!binding.run || !answers(binding, e)) continue;
      if (binding.run(e) === false) continue;
      e.preventDefault();
      return;
    }
  });
}

function keyCombo(parts) {
  const span = document.createElement("span");
  span.className = "keys";
  parts.forEach((part, i) => {
    if (i) span.append("+");
    const kbd = document.createElement("kbd");
    kbd.textContent = part;
    span.append(kbd);
  });
  return span;
}

/* Fill `tbody` with one row per binding: the keys (each in its own <kbd>, alternatives joined by "or"),
 * what it does, and how to do the same with the mouse. */
export function renderHelp(bindings, tbody) {
  tbody.textContent = "";
  for (const binding of bindings) {
    if (!binding.does) continue;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    binding.label.forEach((alternative, i) => {
      if (i) th.append(" or ");
      th.append(keyCombo(alternative));
    });
    const does = document.createElement("td");
    does.textContent = binding.does;
    const mouse = document.createElement("td");
    mouse.className = "muted";
    mouse.textContent = binding.mouse || "";
    tr.append(th, does, mouse);
    tbody.append(tr);
  }
}
