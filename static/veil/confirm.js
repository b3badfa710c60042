// Forms marked data-confirm ask before they submit (instead of an inline onsubmit, which the CSP refuses).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
