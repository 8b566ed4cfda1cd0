// @ts-check
// The New group page's people picker. The page works without a script:
// the server counts the people chosen on every search and on create. This
// keeps the count right between those, as boxes are ticked.

import { byId } from "./markup.js";

/** Keeps "N chosen" equal to the boxes ticked on the New group page. */
export class GroupPicker {
  start() {
    const form = byId("group-form", HTMLFormElement);
    const count = byId("group-count-number", HTMLElement);
    form.addEventListener("change", () => {
      // A person is one choice even where they are listed twice.
      const ids = new Set();
      for (const box of form.querySelectorAll('input[name="user_id"]')) {
        if (box instanceof HTMLInputElement && box.checked) ids.add(box.value);
      }
      count.textContent = String(ids.size);
    });
  }
}
