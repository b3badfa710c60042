// The export page: follows the export's progress while it is queued or running, then reloads the page.
import { poll } from "./poll.js";

const box = document.getElementById("export-progress");
if (box && ["queued", "running"].includes(box.dataset.status)) {
  poll({
    url: box.dataset.url,
    bar: box.querySelector("[role=progressbar]"),
    percent: (p) => p.percent,
    text: (p) => `${p.images_done} of ${p.images_total} images`,
    fields: {
      "export-count": (p) => `${p.images_done} / ${p.images_total}`,
      "export-status": (p) => p.status.charAt(0).toUpperCase() + p.status.slice(1),
    },
    // The chunks' states ({total, done, running, failed, queued}), when the JSON carries them.
    show: (p) => {
      for (const [key, n] of Object.entries(p.chunks || {})) {
        const cell = box.querySelector(`[data-chunks="${key}"]`);
        if (cell) cell.textContent = n;
      }
    },
    finished: (p) => p.status === "done" || p.status === "failed",
  });
}
