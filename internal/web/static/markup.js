// @ts-check
// Building the page from the markup the server defines: the server renders
// each kind of row once (templates/rows.html) into a <template> element,
// and the scripts clone it and fill it from their data, with textContent
// and attributes only (the Content-Security-Policy lets no string become
// markup). Nothing here reads the page's text back.

/**
 * The element with an id, checked to be of the type the caller needs.
 * @template {Element} T
 * @param {string} id
 * @param {{new (): T}} type
 * @returns {T}
 */
export function byId(id, type) {
  return checked(document.getElementById(id), type, `#${id}`);
}

/**
 * The first element under root matching a selector, checked to be of the
 * type the caller needs.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @param {{new (): T}} type
 * @returns {T}
 */
export function part(root, selector, type) {
  return checked(root.querySelector(selector), type, selector);
}

/**
 * @template {Element} T
 * @param {Element | null} el
 * @param {{new (): T}} type
 * @param {string} what
 * @returns {T}
 */
function checked(el, type, what) {
  if (!(el instanceof type)) throw new Error(`${what}: missing, or not a ${type.name}`);
  return el;
}

/**
 * A new copy of the row a <template id=…> element holds.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function cloneTemplate(id) {
  const row = byId(id, HTMLTemplateElement).content.firstElementChild;
  if (!(row instanceof HTMLElement)) throw new Error(`#${id} holds no element`);
  return /** @type {HTMLElement} */ (row.cloneNode(true));
}

/**
 * Makes parent's children exactly nodes, in order, touching as little as
 * it can: nodes already in place stay (so a pointer or a keyboard focus on
 * them is kept), nodes out of place move, and each run of new nodes goes
 * in with one insertion, through a DocumentFragment.
 * @param {Element} parent
 * @param {Node[]} nodes
 */
export function reconcileChildren(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.childNodes]) {
    if (!wanted.has(child)) child.remove();
  }
  let ref = parent.firstChild;
  let fresh = document.createDocumentFragment();
  const flush = () => {
    if (fresh.childNodes.length === 0) return;
    parent.insertBefore(fresh, ref);
    fresh = document.createDocumentFragment();
  };
  for (const node of nodes) {
    if (node === ref) {
      flush();
      ref = ref.nextSibling;
    } else if (node.parentNode === parent) {
      flush();
      parent.insertBefore(node, ref);
    } else {
      fresh.append(node);
    }
  }
  flush();
}

/**
 * Returns a function that calls render once, in a microtask, however many
 * times it is called before then: the state changes of one event make one
 * DOM update.
 * @param {() => void} render
 * @returns {() => void}
 */
export function coalesce(render) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      render();
    });
  };
}
