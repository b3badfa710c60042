/* Veil review page, talking to the server: JSON calls to api/views/review.py and image pixels fetched ahead. */
(function () {
  "use strict";

  window.VeilReviewApi = function (apiBase) {
    const pixels = new Map(); // display url -> Promise of a decoded Image

    function csrf() {
      const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
      return m ? decodeURIComponent(m[1]) : "";
    }

    async function api(method, path, body) {
      if (body && "lease_token" in body) body.request_id ??= ((api.ids ??= {})[path + JSON.stringify({ ...body, seconds_spent: 0 })] ??= Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")); // one id per save, the same when that save is sent again: the server answers a retry of a committed save as saved
      let res;
      try {
        res = await fetch(apiBase + path, {
          method,
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        // Offline or the server is down: answer like a refusal, so the page keeps the edits and says so.
        return { status: 0, ok: false, data: { detail: "The server could not be reached; nothing was saved. Your edits are still on screen: press Enter to try again." } };
      }
      let data = null;
      try {
        data = await res.json();
      } catch (err) {
        data = { detail: `The server answered ${res.status} without details.` };
      }
      return { status: res.status, ok: res.ok, data };
    }

    function preload(url) {
      if (!pixels.has(url)) {
        const img = new Image();
        img.src = url;
        pixels.set(url, img.decode().then(() => img, () => img));
      }
      return pixels.get(url);
    }

    return { api, preload };
  };
})();
