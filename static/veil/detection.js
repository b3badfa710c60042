// The detection run page: follows the run's progress until it is finished, then reloads once so the buttons and
// the failure list match the final state.
import { poll } from "./poll.js";

const panel = document.getElementById("detection-progress");

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

if (panel && panel.dataset.finished !== "true") {
  poll({
    url: panel.dataset.url,
    read: (run) => run.progress,
    bar: panel.querySelector("[role=progressbar]"),
    percent: (p) => p.percent,
    text: (p) => `${p.processed} of ${p.total} images`,
    fields: {
      "run-status": (p) => p.status_display,
      "run-processed": (p) => p.processed,
      "run-total": (p) => p.total,
      "run-done": (p) => p.done,
      "run-failed": (p) => p.failed,
      "run-faces": (p) => p.faces,
      "run-rate": (p) => (p.images_per_second === null ? "–" : p.images_per_second),
      "run-left": (p) => duration(p.seconds_left),
    },
    finished: (p) => p.is_finished,
  });
}
