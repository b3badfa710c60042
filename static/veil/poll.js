/* The progress pages' one poller (the import, a detection run, an export): fetch the work's JSON every second,
 * more slowly while the server does not answer, show it, and reload the page once the work is finished so the
 * rest of the page (buttons, lists) matches the final state.
 *
 *   poll({url, read, bar, percent, text, fields, show, finished})
 *     url       the JSON to fetch (with the session's cookie)
 *     read      (json) -> the progress object the other callbacks get (default: the JSON itself)
 *     bar       the role=progressbar element, or null; percent(p) -> 0..100 for it; text(p) -> its aria-valuetext
 *     fields    {element id: (p) -> text}: each element's text, every tick
 *     show      (p) -> anything else the page draws from it (e.g. an export's chunks)
 *     finished  (p) -> true once the work is done or failed: the page reloads
 */

const EVERY_MS = 1000;
const SLOWEST_MS = 10000;

/* The bar's fill and its aria-valuenow move together, so a screen reader hears what a sighted user sees. */
export function setProgress(bar, percent, text) {
  const value = Math.max(0, Math.min(100, Math.round(Number(percent) * 10) / 10 || 0));
  bar.setAttribute("aria-valuenow", String(value));
  if (text) bar.setAttribute("aria-valuetext", text);
  const fill = bar.querySelector("span");
  if (fill) fill.style.width = `${value}%`;
}

export function poll({ url, read = (json) => json, bar = null, percent, text, fields = {}, show, finished }) {
  let failures = 0;
  async function tick() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const progress = read(await response.json());
      failures = 0;
      if (finished(progress)) {
        window.location.reload();
        return;
      }
      if (bar && percent) setProgress(bar, percent(progress), text && text(progress));
      for (const [id, value] of Object.entries(fields)) {
        const element = document.getElementById(id);
        if (element) element.textContent = String(value(progress));
      }
      if (show) show(progress);
    } catch (err) {
      failures += 1; // the server restarting or a network blip: keep trying, more slowly
    }
    setTimeout(tick, Math.min(EVERY_MS * (1 + failures), SLOWEST_MS));
  }
  setTimeout(tick, EVERY_MS);
}
