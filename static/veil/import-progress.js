// The import page: while the import is queued or running, poll its counters and reload once it has finished.
(function () {
  "use strict";
  const box = document.getElementById("import-job");
  if (!box || !["queued", "running"].includes(box.dataset.status)) return;
  async function poll() {
    try {
      const r = await fetch(box.dataset.url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      if (r.ok) {
        const p = await r.json();
        if (p.finished) { location.reload(); return; }
        document.getElementById("import-seen").textContent = p.files_seen;
        document.getElementById("import-rejected").textContent = p.rejected;
        document.getElementById("import-duplicates").textContent = p.duplicates;
        document.getElementById("import-state").textContent = p.status === "running" ? "Running" : "Queued";
      }
    } catch (e) { /* a dropped request: try again on the next tick */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
