/* Key bindings as one table: the keydown handler and the `?` help are both drawn from it.
 *
 * A binding is {keys, ctrl, shift, label, does, mouse, run}:
 *   keys   the KeyboardEvent.key values it answers (letters match either case);
 *   ctrl   true: needs Ctrl (or Cmd); false (default): refuses it; "any": either;
 *   shift  true / false, or undefined for either (Shift+Tab, "?" which needs Shift on most layouts);
 *   label  what the help shows: a list of alternatives, each a list of keys pressed together;
 *   does   one sentence for the help; mouse: how to do the same with the mouse;
 *   run(e) does it; returning false passes the key on to the next binding that answers it;
 *   action / name  what buttons and hints call it (showKeyHints).
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

/* The keys of a binding as a page shows them: each alternative's keys joined by "+" ("Ctrl+Z"). */
function shownKeys(binding) {
  return binding.label.map((combo) => combo.join("+"));
}

function named(bindings, name) {
  return bindings.find((b) => (b.action === name || b.name === name) && b.label.length);
}

/* The key a page names in a sentence ("F box it"), from the table: the first alternative of `name`'s binding. */
export function keyOf(bindings, name) {
  const binding = named(bindings, name);
  return binding ? shownKeys(binding)[0] : "";
}

/* Write each key hint of `root` from the table, so the key a page shows is the key that is bound:
 *   - a button with data-action gets its keys at the end of its title: "Hide all boxes (H)";
 *   - a <kbd class="rv-hint"> gets the first alternative (every one, joined by "/", with data-hint="all").
 * A hint names its binding with data-keys, else it takes its button's (data-keys, else data-action). A hint whose
 * binding the page does not offer is removed, rather than left showing a key that does nothing. */
export function showKeyHints(bindings, root) {
  for (const button of root.querySelectorAll("[data-action]")) {
    const binding = named(bindings, button.dataset.keys || button.dataset.action);
    if (binding && button.title) button.title = `${button.title} (${shownKeys(binding).join(" or ")})`;
  }
  for (const hint of root.querySelectorAll("kbd.rv-hint")) {
    const owner = hint.closest("[data-action]");
    const binding = named(bindings, hint.dataset.keys || (owner && (owner.dataset.keys || owner.dataset.action)));
    if (!binding) {
      hint.remove();
      continue;
    }
    const keys = shownKeys(binding);
    hint.textContent = hint.dataset.hint === "all" ? keys.join("/") : keys[0];
  }
}
