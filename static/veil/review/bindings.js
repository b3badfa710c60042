/* The review page's keys, as the one table the keydown handler and the `?` help are drawn from (keys.js).
 * Every row names the button, slider or gesture that does the same with the mouse.
 */

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export function reviewBindings({ actions, editor }) {
  const nudge = (resize) => (e) => {
    const [dx, dy] = ARROWS[e.key];
    if (editor.nudgeSelected(dx, dy, { resize, big: e.ctrlKey || e.metaKey })) return true;
    if (!resize) return false; // nothing selected: ← → go on to the previous / next image
    editor.panBy(-dx * editor.stage.clientWidth / 10, -dy * editor.stage.clientHeight / 10);
    return true;
  };
  return [
    { keys: ["Enter"], label: [["Enter"]], does: "Save the boxes as shown and open the next image", mouse: "Save & next button", run: actions.save },
    {
      keys: ["Tab"], label: [["Tab"], ["Shift", "Tab"]], does: "Select the next or previous box", mouse: "click a box",
      run: (e) => editor.selectNext(e.shiftKey ? -1 : 1),
    },
    { keys: ["Delete", "Backspace"], label: [["Delete"], ["Backspace"]], does: "Delete the selected box", mouse: "Delete box button", run: actions.delete },
    {
      keys: Object.keys(ARROWS), shift: false, ctrl: "any", label: [["←"], ["↑"], ["→"], ["↓"]], mouse: "drag the box",
      does: "Move the selected box a few pixels (ten times as far with Ctrl); with no box selected, ← → change image",
      run: nudge(false),
    },
    {
      keys: Object.keys(ARROWS), shift: true, ctrl: "any", label: [["Shift", "arrow"]],
      does: "Size the selected box: → ↓ widen and heighten it, ← ↑ narrow and shorten it (ten times as much with Ctrl); with no box selected, pan",
      mouse: "drag a handle; middle-drag to pan", run: nudge(true),
    },
    {
      keys: ["p"], label: [["P"]], mouse: "drag on the image",
      does: "Place a new box at the pointer (the middle of the view when the pointer is off the image), to move and size with the arrows",
      run: actions.placeBox,
    },
    {
      keys: ["c"], label: [["C"]], mouse: "Candidates button", run: actions.candidates,
      does: "Show or hide candidates (dashed violet): places the detector was unsure of. Shown when you save, the ones you did not box are recorded as not faces",
    },
    {
      keys: ["v"], label: [["V"], ["Shift", "V"]], mouse: "click a candidate",
      does: "Select the next or previous candidate (shows them)", run: (e) => editor.candidates.cycle(e.shiftKey ? -1 : 1),
    },
    {
      keys: ["f"], label: [["F"]], mouse: "Box it button, or double-click a candidate",
      does: "Turn the candidate under the pointer, or the selected one, into a box", run: () => editor.candidates.box(),
    },
    { keys: ["]"], label: [["]"]], does: "Grow the selected box by 10 % (a tight box leaves the edge of a face sharp)", mouse: "Grow button, or drag a handle", run: actions.grow },
    { keys: ["["], label: [["["]], does: "Shrink the selected box by 10 %", mouse: "Shrink button, or drag a handle", run: actions.shrink },
    { keys: ["z"], ctrl: true, shift: false, label: [["Ctrl", "Z"]], does: "Undo", mouse: "Undo button", run: actions.undo },
    { keys: ["z"], ctrl: true, shift: true, label: [["Ctrl", "Shift", "Z"], ["Ctrl", "Y"]], does: "Redo", mouse: "Redo button", run: actions.redo },
    { keys: ["y"], ctrl: true, label: [], run: actions.redo },
    {
      keys: ["a", "ArrowLeft"], label: [["A"], ["←"]], mouse: "◀ button",
      does: "Previous image (edits you did not save are kept while the page is open)", run: actions.prev,
    },
    { keys: ["d", "ArrowRight"], label: [["D"], ["→"]], does: "Next image", mouse: "▶ button", run: actions.next },
    { keys: ["h"], label: [["H"]], does: "Hide all boxes to look at the faces under them", mouse: "Hide button", run: actions.hide },
    { keys: ["b"], label: [["B"]], does: "Preview the blur", mouse: "Blur button", run: actions.blur },
    { keys: ["n"], label: [["N"]], does: "No faces here (removes the boxes; Ctrl+Z brings them back)", mouse: "No faces button", run: actions.noFaces },
    { keys: ["u"], label: [["U"]], does: "Unsure: the admin will look at this image", mouse: "Unsure button", run: actions.unsure },
    { keys: ["+", "="], label: [["+"]], does: "Zoom in (the zoom stays for the next image)", mouse: "+ button, or the wheel at the pointer", run: actions.zoomIn },
    { keys: ["-"], label: [["−"]], does: "Zoom out", mouse: "− button, or the wheel", run: actions.zoomOut },
    { keys: ["f", "0"], label: [["0"], ["F"]], does: "Fit the image to the window (F: when no candidate is shown under the pointer or selected)", mouse: "Fit button", run: actions.fit },
    {
      keys: [" "], label: [["Space"]], does: "Hold and drag to pan", mouse: "drag with the middle button",
      run: () => editor.pointer.setSpaceHeld(true),
    },
    {
      keys: ["."], label: [["."]], mouse: "the score slider",
      does: "Raise the score threshold by 0.05: proposals below it are dimmed (or hidden) and saved as deleted, unless you move or resize them",
      run: actions.thresholdUp,
    },
    { keys: [","], label: [[","]], does: "Lower the score threshold by 0.05", mouse: "the score slider", run: actions.thresholdDown },
    { keys: ["?"], label: [["?"]], does: "Show or hide this help", mouse: "? button", run: actions.help },
    { keys: ["Escape"], label: [["Esc"]], does: "Close this help and unselect the box or candidate", mouse: "Close button; click the image off any box", run: actions.escape },
  ];
}
