/* Talking to the server: JSON calls under one base URL, and image pixels fetched ahead. */

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function jsonApi(apiBase) {
  return async function api(method, path, body) {
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
  };
}

const pixels = new Map(); // display url -> Promise of a decoded Image

export function preload(url) {
  if (!pixels.has(url)) {
    const img = new Image();
    img.src = url;
    pixels.set(url, img.decode().then(() => img, () => img));
  }
  return pixels.get(url);
}
