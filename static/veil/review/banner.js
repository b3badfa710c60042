/* The banner over the image, shared by the review page and the admin's image viewer. Information fades after
 * five seconds so it does not cover the top of the image; warnings and refusals stay until read. `reload`
 * ({label, run}) adds a button that reloads (the caller says what it drops). */

let timer = 0;

export function showBanner(text, kind = "info", reload = null) {
  const b = document.getElementById("rv-banner");
  clearTimeout(timer);
  if (text && kind === "info" && !reload) timer = setTimeout(() => { b.hidden = true; }, 5000);
  b.hidden = !text;
  b.className = `rv-banner rv-${kind}`;
  b.textContent = text || "";
  if (reload) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = reload.label;
    button.addEventListener("click", reload.run);
    b.append(" ", button);
  }
}
