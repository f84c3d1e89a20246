// @ts-check
// DOM helpers for the content scripts: making elements a page cannot tamper with, finding
// elements across open shadow roots, reading an element's text as one line, and placing our
// elements in the page. Classic content script: shares the isolated world's script scope with
// the other scripts and puts nothing on the global object.

/* exported flagpostDom */
const flagpostDom = (() => {
  // Elements made here cannot be custom elements of the page: this document has no registry,
  // so a page that defines <flagpost-warning> (or any tag we use) first cannot run its
  // constructor for our createElement.
  const inert = document.implementation.createHTMLDocument('');

  /**
   * An element made in the inert document: `text` sets its text, every other prop an attribute.
   * @param {string} tag
   * @param {Record<string, string>} [props]
   * @param {(Node | string)[]} [children]
   * @returns {HTMLElement}
   */
  function create(tag, props = {}, children = []) {
    const node = inert.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  /** @param {string} text */
  const textNode = (text) => inert.createTextNode(text);

  /**
   * The first element under `el` matching `selector` (none for no selector).
   * @param {ParentNode} el
   * @param {string | null | undefined} selector
   * @returns {Element | null}
   */
  const first = (el, selector) => (selector ? el.querySelector(selector) : null);

  /**
   * Every element under `el` matching `selector`, as an array.
   * @param {ParentNode} el
   * @param {string} selector
   * @returns {Element[]}
   */
  const all = (el, selector) => Array.from(el.querySelectorAll(selector));

  /**
   * The element a node is or sits in; for a node directly in a shadow root, its host.
   * @param {Node} node
   * @returns {Element | null}
   */
  const elementOf = (node) => (node.nodeType === Node.ELEMENT_NODE
    ? /** @type {Element} */ (node)
    : node.parentElement ?? /** @type {ShadowRoot | null} */ (node.parentNode)?.host ?? null);

  /**
   * The host of the shadow root an element is in, or null in a document.
   * @param {Element} el
   * @returns {Element | null}
   */
  const hostOf = (el) => /** @type {ShadowRoot} */ (el.getRootNode()).host ?? null;

  /**
   * closest() that continues from a shadow root to its host: posts may hold their text in open
   * shadow roots, or sit inside one.
   * @param {Node} node
   * @param {string} selector
   * @returns {Element | null}
   */
  function closestComposed(node, selector) {
    let el = elementOf(node);
    while (el) {
      const found = el.closest(selector);
      if (found) return found;
      el = hostOf(el);
    }
    return null;
  }

  /**
   * Ancestors of `el` (itself included) that match `selector`, nearest first.
   * @param {Element} el
   * @param {string} selector
   * @returns {Generator<Element>}
   */
  function* ancestors(el, selector) {
    /** @type {Element | null} */
    let at = el;
    while (at) {
      const found = at.closest(selector);
      if (!found) return;
      yield found;
      at = found.parentElement;
    }
  }

  /**
   * Text with its runs of white space made single spaces, trimmed.
   * @param {string} text
   */
  const oneLine = (text) => text.replace(/\s+/g, ' ').trim();

  /**
   * An element's text content as one line ('' for none).
   * @param {Node | null | undefined} el
   */
  const textOf = (el) => oneLine(el?.textContent ?? '');

  /**
   * Puts one of our elements just before a post's content (`anchor`, the post itself or an
   * element in it), in the same slot when the content is slotted into a shadow root.
   * @param {Element} post
   * @param {Element} anchor
   * @param {Element} node
   */
  function insertBefore(post, anchor, node) {
    if (anchor.slot) node.slot = anchor.slot;
    if (anchor === post) post.prepend(node);
    else anchor.before(node);
  }

  return Object.freeze({ create, textNode, first, all, elementOf, hostOf, closestComposed, ancestors, oneLine, textOf, insertBefore });
})();
