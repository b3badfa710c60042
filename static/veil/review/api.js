/* Talking to the server: JSON calls under one base URL, and image pixels fetched ahead. */

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function jsonApi(apiBase) {
  const requestIds = {}; // one id per save, the same when that save is sent again (see saveRequestId)
  return async function api(method, path, body) {
    if (body && "lease_token" in body) body.request_id ??= saveRequestId(requestIds, path, body);
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

// The server answers a retry of a committed save as saved when it carries the same id, never a false 409.
function saveRequestId(ids, path, body) {
  const key = path + JSON.stringify({ ...body, seconds_spent: 0 });
  ids[key] ??= Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  return ids[key];
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
