// The dataset page's uploader: drag and drop, a byte-level progress bar, then the import's summary page.
import { setProgress } from "./poll.js";

const form = document.getElementById("import-form");
if (form) {
  const input = document.getElementById("import-files");
  const zone = document.getElementById("dropzone");
  const bar = document.getElementById("import-progress");
  const status = document.getElementById("import-status");
  const button = document.getElementById("import-submit");
  let dropped = null;

  function describe(files) {
    const total = Array.from(files).reduce((n, f) => n + f.size, 0);
    status.textContent = files.length + " file" + (files.length === 1 ? "" : "s") + ", " + (total / 1048576).toFixed(1) + " MB selected";
  }
  input.addEventListener("change", () => { dropped = null; describe(input.files); });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => { dropped = e.dataTransfer.files; describe(dropped); });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const files = dropped || input.files;
    if (!files || !files.length) {
      if (form.querySelector("[name=name]")) { form.submit(); return; }  // a new dataset, nothing to import yet
      status.textContent = "Choose at least one image or archive to import.";
      return;
    }
    const data = new FormData();
    for (const [key, value] of new FormData(form)) { if (key !== "files") data.append(key, value); }
    for (const f of files) { data.append("files", f); data.append("paths", f.webkitRelativePath || f.name); }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    button.disabled = true;
    xhr.upload.onprogress = (ev) => {
      if (!ev.lengthComputable) return;
      const pct = Math.round((ev.loaded / ev.total) * 100);
      setProgress(bar, pct, `${pct} % uploaded`);
      status.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Storing the upload; the import then runs in the background…";
    };
    xhr.onload = () => {
      button.disabled = false;
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* an HTML error page */ }
      if ((xhr.status === 200 || xhr.status === 202) && body.url) { window.location = body.url; return; }
      status.textContent = body.detail || "The import failed (HTTP " + xhr.status + "). Nothing was half-imported; try again.";
    };
    xhr.onerror = () => { button.disabled = false; status.textContent = "The upload was interrupted. Files already checked are kept; try again."; };
    xhr.send(data);
  });
}
