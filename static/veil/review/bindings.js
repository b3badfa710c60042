/* The review page's keys, as the one table the keydown handler and the `?` help are drawn from (keys.js).
 * Every row names the button, slider or gesture that does the same with the mouse.
 */

export function reviewBindings({ actions, editor }) {
  return [
    { keys: ["Enter"], label: [["Enter"]], does: "Save the boxes as shown and open the next image", mouse: "Save & next button", run: actions.save },
    {
      keys: ["Tab"], label: [["Tab"], ["Shift", "Tab"]], does: "Select the next or previous box", mouse: "click a box",
      run: (e) => editor.selectNext(e.shiftKey ? -1 : 1),
    },
    { keys: ["Delete", "Backspace"], label: [["Delete"], ["Backspace"]], does: "Delete the selected box", mouse: "Delete box button", run: actions.delete },
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
    { keys: ["f", "0"], label: [["F"], ["0"]], does: "Fit the image to the window", mouse: "Fit button", run: actions.fit },
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
    { keys: ["Escape"], label: [["Esc"]], does: "Close this help and unselect the box", mouse: "Close button; click the image off any box", run: actions.escape },
  ];
}
