// The export page: polls the export's progress while it is queued or running, then reloads the page.
(function () {
  const box = document.getElementById("export-progress");
  if (!["queued", "running"].includes(box.dataset.status)) return;
  async function poll() {
    try {
      const r = await fetch(box.dataset.url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      if (r.ok) {
        const p = await r.json();
        document.getElementById("export-bar").style.width = p.percent + "%";
        document.getElementById("export-count").textContent = p.images_done + " / " + p.images_total;
        document.getElementById("export-status").textContent = p.status;
        for (const [key, n] of Object.entries(p.chunks || {})) {
          const cell = box.querySelector(`[data-chunks="${key}"]`);
          if (cell) cell.textContent = n;
        }
        if (p.status === "done" || p.status === "failed") { location.reload(); return; }
      }
    } catch (e) { /* a dropped request: try again on the next tick */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
