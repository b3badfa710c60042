// The detection run page: polls the run's JSON every second until it is finished, then reloads once so the
// buttons and the failure list match the final state.
(function () {
  "use strict";
  const panel = document.getElementById("detection-progress");
  if (!panel || panel.dataset.finished === "true") return;
  const url = panel.dataset.url;
  const $ = (id) => document.getElementById(id);

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function show(p) {
    $("run-status").textContent = p.status_display;
    $("run-bar").style.width = p.percent + "%";
    panel.querySelector("[role=progressbar]").setAttribute("aria-valuenow", p.percent);
    $("run-processed").textContent = p.processed;
    $("run-total").textContent = p.total;
    $("run-done").textContent = p.done;
    $("run-failed").textContent = p.failed;
    $("run-faces").textContent = p.faces;
    $("run-rate").textContent = p.images_per_second === null ? "–" : p.images_per_second;
    $("run-left").textContent = duration(p.seconds_left);
  }

  let failures = 0;
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const run = await response.json();
      show(run.progress);
      failures = 0;
      if (run.progress.is_finished) { window.location.reload(); return; }
    } catch (err) {
      failures += 1;  // the server restarting or a network blip: keep trying, more slowly
    }
    setTimeout(poll, Math.min(1000 * (1 + failures), 10000));
  }
  poll();
})();
