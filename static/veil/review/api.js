/* Talking to the server: JSON calls under one base URL, and image pixels fetched ahead. */

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

// A save whose answer did not come back (503: the database was out of reach; 0: the connection dropped) may
// have committed. It carries its request id, so sending it once more is safe: the server answers a committed
// save as saved, never with a false 409.
const SAVE_RETRY_STATUSES = new Set([0, 503]);
const SAVE_RETRY_DELAY_MS = 1000;

export function jsonApi(apiBase) {
  const requestIds = {}; // one id per save, the same when that save is sent again (see saveRequestId)
  return async function api(method, path, body) {
    const isSave = !!body && "lease_token" in body;
    if (isSave) body.request_id ??= saveRequestId(requestIds, path, body);
    let res = await send(method, apiBase + path, body);
    if (isSave && SAVE_RETRY_STATUSES.has(res.status)) {
      await new Promise((resolve) => setTimeout(resolve, SAVE_RETRY_DELAY_MS));
      res = await send(method, apiBase + path, body);
    }
    return res;
  };
}

async function send(method, url, body) {
  let res;
  try {
    res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    // Offline or the server is down: answer like a refusal, so the page keeps the edits and says so.
    return { status: 0, ok: false, data: { detail: "The server could not be reached. Your edits are still on screen: press Enter to try again (a save that did reach it is not made twice)." } };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (err) {
    data = { detail: `The server answered ${res.status} without details.` };
  }
  return { status: res.status, ok: res.ok, data };
}

// The same answer on the same revision of the same image is the same save, whatever the lease (a save that
// committed released it, and the page may have been given another, or none, since) and however long it took.
function saveRequestId(ids, path, body) {
  const key = path + JSON.stringify({ ...body, lease_token: "", seconds_spent: 0 });
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
