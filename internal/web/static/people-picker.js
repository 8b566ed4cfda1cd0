// @ts-check
// The "New group" page's people picker (templates/group-new.html): keeps
// "N chosen" right as boxes are ticked. The page works without it: the
// server counts what was ticked each time the form comes back.

import { byId } from "./markup.js";

/**
 * Counts the ticked boxes of the form and writes the number into the
 * count, which is a status region: screen readers hear the new count.
 * @param {HTMLFormElement} form
 * @param {HTMLElement} number
 */
function showCount(form, number) {
  const n = form.querySelectorAll('input[type="checkbox"][name="user_id"]:checked').length;
  number.textContent = String(n);
}

function start() {
  const form = byId("group-form", HTMLFormElement);
  const number = byId("group-count-number", HTMLElement);
  form.addEventListener("change", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type === "checkbox") showCount(form, number);
  });
  // A page restored from the back/forward cache keeps its boxes as they
  // were left: count them again.
  window.addEventListener("pageshow", () => showCount(form, number));
  showCount(form, number);
}

if (document.body.dataset.page === "group-new") start();
