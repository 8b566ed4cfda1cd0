// @ts-check
// The people directory: search as you type, page by page. The address
// keeps the search, so that reloading or going back shows it again.

import { fetchUsers } from "./api.js";
import { byId, cloneTemplate, part } from "./markup.js";

/** @typedef {import("./wire.js").Contact} Contact */

/** How long typing must pause before a search goes. */
const SEARCH_DELAY_MS = 250;

/**
 * Fills a row cloned from #person-row-template with a person: everything
 * the "person-row" template fills on the server.
 * @param {HTMLElement} li
 * @param {Contact} u
 */
function fillPerson(li, u) {
  li.classList.toggle("online", u.online);
  li.dataset.id = String(u.id);
  part(li, ".online-dot", HTMLElement).setAttribute("aria-label", u.online ? "online" : "offline");
  part(li, ".name", HTMLElement).textContent = u.display_name;
  part(li, ".username", HTMLElement).textContent = `@${u.username}`;
  part(li, "form", HTMLFormElement).action = `/people/${u.id}/message`;
}

/** The people page. */
export class PeoplePage {
  constructor() {
    this.input = byId("people-search", HTMLInputElement);
    this.form = byId("people-form", HTMLFormElement);
    this.results = byId("people-results", HTMLElement);
    this.empty = byId("people-empty", HTMLElement);
    this.prev = byId("people-prev", HTMLAnchorElement);
    this.next = byId("people-next", HTMLAnchorElement);
    /** @type {string[]} the cursor of each page shown so far, "" for the first */
    this.cursors = [""];
    /** @type {string | null} */
    this.nextCursor = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.request = 0;
  }

  /** Listens to the search box and the pager, and runs the search in the box. */
  start() {
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(true), SEARCH_DELAY_MS);
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.search(true);
    });
    this.next.addEventListener("click", (e) => {
      e.preventDefault();
      if (this.nextCursor) {
        this.cursors.push(this.nextCursor);
        this.search(false);
      }
    });
    this.prev.addEventListener("click", (e) => {
      e.preventDefault();
      if (this.cursors.length > 1) {
        this.cursors.pop();
        this.search(false);
      }
    });
    this.search(true);
  }

  /**
   * Shows a page of results for the search in the box.
   * @param {boolean} fromStart the first page (a new search) or the page of the last cursor
   */
  async search(fromStart) {
    if (fromStart) this.cursors = [""];
    const q = this.input.value.trim();
    const after = this.cursors[this.cursors.length - 1];
    const request = ++this.request;
    let data;
    try {
      data = await fetchUsers(q, after);
    } catch {
      return;
    }
    if (request !== this.request) return; // a newer search is on its way
    const fragment = document.createDocumentFragment();
    for (const u of data.users) {
      const li = cloneTemplate("person-row-template");
      fillPerson(li, u);
      fragment.append(li);
    }
    this.results.replaceChildren(fragment);
    this.empty.hidden = data.users.length > 0;
    this.nextCursor = data.next;
    this.next.hidden = !data.next;
    this.prev.hidden = this.cursors.length <= 1;
    // Rewritten only when the search changed, so that back still works.
    const shown = new URLSearchParams(window.location.search);
    if ((shown.get("q") || "") !== q || shown.has("after")) {
      history.replaceState({}, "", q ? `/people?${new URLSearchParams({ q })}` : "/people");
    }
  }
}
