// The import page: while the import is queued or running, show its counters and reload once it has finished.
import { poll } from "./poll.js";

const box = document.getElementById("import-job");
if (box && ["queued", "running"].includes(box.dataset.status)) {
  // No bar: an import does not know how many files its archives hold until it has read them all.
  poll({
    url: box.dataset.url,
    fields: {
      "import-seen": (p) => p.files_seen,
      "import-rejected": (p) => p.rejected,
      "import-duplicates": (p) => p.duplicates,
      "import-state": (p) => (p.status === "running" ? "Running" : "Queued"),
    },
    finished: (p) => p.finished,
  });
}
