/* The box editor's keys, as the one table the keydown handler, the `?` help and the key hints on the buttons
 * (keys.js showKeyHints) are drawn from. Every row names the button, slider or gesture that does the same with the
 * mouse. The review page and the admin's image viewer share it: a row whose `action` the page does not offer is
 * left out, and a page may reword a row (`texts`: {action: {does, mouse}}). A row without an action has a `name`,
 * so a page's hint can point at it (data-keys="list").
 */

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export function editorBindings({ actions, editor, texts = {} }) {
  const nudge = (resize) => (e) => {
    const [dx, dy] = ARROWS[e.key];
    if (editor.nudgeSelected(dx, dy, { resize, big: e.ctrlKey || e.metaKey })) return true;
    if (!resize) return false; // nothing selected: ← → go on to the previous / next image
    editor.panBy((-dx * editor.stage.clientWidth) / 10, (-dy * editor.stage.clientHeight) / 10);
    return true;
  };
  const rows = [
    { action: "save", keys: ["Enter"], label: [["Enter"]], does: "Save the boxes as shown and open the next image", mouse: "Save & next button" },
    {
      name: "selectBox", keys: ["Tab"], label: [["Tab"], ["Shift", "Tab"]], does: "Select the next or previous box", mouse: "click a box",
      run: (e) => editor.selectNext(e.shiftKey ? -1 : 1),
    },
    {
      name: "list", keys: ["j", "k"], label: [["J"], ["K"]], mouse: "click a row of the list, or a box or candidate on the image",
      does: "Select the next (J) or previous (K) row of the side list: open candidates strongest first, then the boxes weakest first",
      run: (e) => editor.stepList(e.key.toLowerCase() === "j" ? 1 : -1),
    },
    {
      action: "delete", keys: ["Delete", "Backspace"], label: [["Delete"], ["Backspace"]], mouse: "Delete box button, or the list row's ✕",
      does: "Delete the selected box and select the next one down the list; on a selected candidate, not a face (X)",
    },
    {
      name: "move", keys: Object.keys(ARROWS), shift: false, ctrl: "any", label: [["←"], ["↑"], ["→"], ["↓"]], mouse: "drag the box",
      does: "Move the selected box a few pixels (ten times as far with Ctrl); with no box selected, ← → change image",
      run: nudge(false),
    },
    {
      name: "size", keys: Object.keys(ARROWS), shift: true, ctrl: "any", label: [["Shift", "arrow"]],
      does: "Size the selected box: → ↓ widen and heighten it, ← ↑ narrow and shorten it (ten times as much with Ctrl); with no box selected, pan",
      mouse: "drag a handle; middle-drag to pan", run: nudge(true),
    },
    {
      action: "aim", keys: ["1", "2", "3", "4", "5", "6", "7", "8", "9"], label: [["1–9"]], mouse: "point at the place",
      does: "Aim where P places a box: that ninth of the view (1 top-left, 9 bottom-right, as on a phone), again to narrow it",
    },
    {
      name: "place", keys: ["p"], label: [["P"]], mouse: "drag on the image", run: () => editor.placeBox(),
      does: "Place a new box where the digits aimed, else at the pointer, else in the middle of the view, the size of the image's typical box, to move and size with the arrows",
    },
    {
      action: "candidates", keys: ["c"], label: [["C"]], mouse: "Candidates button",
      does: "Hide or show the candidates (dashed violet): places the detector was unsure of. Shown when you save, those you neither boxed nor dismissed are saved as left open, and the image stays flagged",
    },
    {
      name: "cycleCandidates", keys: ["v"], label: [["V"], ["Shift", "V"]], mouse: "click a candidate, or its row in the list",
      does: "Select the next or previous open candidate, strongest first (shows them)", run: (e) => editor.candidates.cycle(e.shiftKey ? -1 : 1),
    },
    {
      action: "boxCandidate", keys: ["f"], label: [["F"]], mouse: "Box it button, or double-click a candidate",
      does: "Box it: turn the candidate under the pointer, or the selected one, into a box",
    },
    {
      action: "dismissCandidate", keys: ["x"], label: [["X"]], mouse: "Not a face button, or the list row's ✕",
      does: "Not a face: dismiss the candidate under the pointer, or the selected one, and select the next",
    },
    { action: "grow", keys: ["]"], label: [["]"]], does: "Grow the selected box by 10 % (a tight box leaves the edge of a face sharp)", mouse: "Grow button, or drag a handle" },
    { action: "shrink", keys: ["["], label: [["["]], does: "Shrink the selected box by 10 %", mouse: "Shrink button, or drag a handle" },
    { action: "undo", keys: ["z"], ctrl: true, shift: false, label: [["Ctrl", "Z"]], does: "Undo", mouse: "Undo button" },
    { action: "redo", keys: ["z"], ctrl: true, shift: true, label: [["Ctrl", "Shift", "Z"], ["Ctrl", "Y"]], does: "Redo", mouse: "Redo button" },
    { action: "redo", keys: ["y"], ctrl: true, label: [] },
    {
      action: "prev", keys: ["a", "ArrowLeft"], label: [["A"], ["←"]], mouse: "◀ button",
      does: "Previous image (edits you did not save are kept while the page is open)",
    },
    { action: "next", keys: ["d", "ArrowRight"], label: [["D"], ["→"]], does: "Next image", mouse: "▶ button" },
    { action: "hideBelow", keys: ["h"], shift: true, label: [["Shift", "H"]], does: "Hide, or show again, the proposals dimmed below the score threshold", mouse: "the hide below check box" },
    { action: "hide", keys: ["h"], label: [["H"]], does: "Hide all boxes to look at the faces under them", mouse: "Hide button" },
    { action: "blur", keys: ["b"], label: [["B"]], does: "Preview the blur", mouse: "Blur button" },
    { action: "noFaces", keys: ["n"], label: [["N"]], does: "No faces here (removes the boxes; Ctrl+Z brings them back)", mouse: "No faces button" },
    { action: "unsure", keys: ["u"], label: [["U"]], does: "Unsure: the admin will look at this image", mouse: "Unsure button" },
    { action: "layer", keys: ["1", "2", "3", "4", "5", "6", "7", "8", "9"], label: [["1–9"]], does: "Show or hide that layer of the legend", mouse: "the legend's check boxes" },
    { action: "zoomIn", keys: ["+", "="], label: [["+"]], does: "Zoom in on the selected box or candidate, else on the middle of the view (the zoom stays for the next image)", mouse: "+ button, or the wheel at the pointer" },
    { action: "zoomOut", keys: ["-"], label: [["−"]], does: "Zoom out (about the selected box or candidate)", mouse: "− button, or the wheel" },
    { action: "fit", keys: ["0"], label: [["0"]], does: "Fit the image to the window", mouse: "Fit button" },
    {
      name: "pan", keys: [" "], label: [["Space"]], does: "Hold and drag to pan", mouse: "drag with the middle button",
      run: () => editor.pointer.setSpaceHeld(true),
    },
    {
      action: "thresholdUp", keys: ["."], label: [["."]], mouse: "the score slider",
      does: "Raise the score threshold by 0.05: proposals below it are dimmed (or hidden) and saved as deleted, unless you move or resize them",
    },
    { action: "thresholdDown", keys: [","], label: [[","]], does: "Lower the score threshold by 0.05", mouse: "the score slider" },
    { action: "help", keys: ["?"], label: [["?"]], does: "Show or hide this help", mouse: "? button" },
    { action: "escape", keys: ["Escape"], label: [["Esc"]], does: "Close this help, forget the aim and unselect the box or candidate", mouse: "Close button; click the image off any box" },
  ];
  return rows
    .filter((row) => !row.action || actions[row.action])
    .map((row) => ({ ...row, ...(texts[row.action] || {}), run: row.run || ((e) => actions[row.action](e)) }));
}
