// @ts-check
// Reads a post's text as a reader sees it and maps offsets in it back to text nodes.
// Classic content script: shares the isolated world's script scope with the other scripts.
//
// What a reader sees: text in open shadow roots (in the order they render it, slots filled
// with what is assigned to them), <time> and role=button text; not what a site hides from the
// eye to break words apart (display:none, visibility:hidden, transparent, zero-size or
// off-screen spans), which would otherwise keep a phrase from matching.

/* global flagpostLimits */
/* exported flagpostText */
const flagpostText = (() => {
  // Controls, menus, media and our own warnings are not the post's text.
  const SKIP = [
    'button', '[role="menu"]', '[role="menubar"]', '[role="menuitem"]',
    '[role="toolbar"]', '[role="group"][aria-label]', 'menu', 'nav', 'script', 'style', 'noscript',
    'template', 'svg', 'canvas', 'video', 'audio', 'select', 'textarea', 'input',
    '[aria-hidden="true"]', 'flagpost-warning', '[contenteditable="true"]',
    // "Show more" links that sit inside the text on VK, X, Mastodon.
    '.wall_post_more', '.PostTextMore', '[data-testid$="show-more-link"]',
    '.status__content__spoiler-link', '.status__content__read-more-button',
    // Telegram message meta (time, views, reactions).
    '.time', '.MessageMeta', '.reactions', '.tgme_widget_message_footer',
  ].join(',');

  const BLOCK = new Set([
    'ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'BR', 'DD', 'DIV', 'DL', 'DT', 'FIELDSET',
    'FIGCAPTION', 'FIGURE', 'FOOTER', 'FORM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR',
    'LI', 'MAIN', 'OL', 'P', 'PRE', 'SECTION', 'TABLE', 'TD', 'TH', 'TR', 'UL',
  ]);

  const MAX_CHARS = flagpostLimits.maxTextUtf16;
  const VISIBILITY = { visibilityProperty: true, opacityProperty: true };
  // A computed colour with zero alpha: rgba(r, g, b, 0), rgb(r g b / 0), transparent.
  const TRANSPARENT = /^transparent$|^rgba\([^)]*,\s*0(?:\.0*)?\)$|\/\s*0(?:\.0*)?\)$/;

  // Children in the order they render: an open shadow root replaces the light children of its
  // host, and a slot shows what is assigned to it (or its own fallback content).
  function childrenOf(node) {
    if (node.shadowRoot) return node.shadowRoot.childNodes;
    if (node.localName === 'slot' && typeof node.assignedNodes === 'function') {
      const assigned = node.assignedNodes();
      if (assigned.length) return assigned;
    }
    return node.childNodes;
  }

  // Is an element inside a visible post hidden from the reader?
  function hiddenFromReader(el, rootRect) {
    const view = el.ownerDocument.defaultView;
    if (!view) return false;
    const cs = view.getComputedStyle(el);
    if (cs.display === 'contents') return false; // no box of its own (slots): its children decide
    if (typeof el.checkVisibility === 'function' && !el.checkVisibility(VISIBILITY)) return true;
    if (TRANSPARENT.test(cs.color)) return true;
    const r = el.getBoundingClientRect();
    if (r.width * r.height <= 1) return true;
    if (rootRect && (r.right <= rootRect.left || r.left >= rootRect.right ||
      r.bottom <= rootRect.top || r.top >= rootRect.bottom)) return true;
    if ((cs.position === 'absolute' || cs.position === 'fixed') && (cs.clipPath !== 'none' || (cs.clip && cs.clip !== 'auto'))) return true;
    return false;
  }

  // Text of `roots` (in order), skipping `exclude(element)` subtrees. Returns
  // { text, nodes: [{ node, start }] } where `start` is the node's offset in `text`.
  function extract(roots, exclude) {
    let text = '';
    const nodes = [];
    let full = false;
    const breakLine = () => {
      if (text.length && !/\s$/.test(text)) text += '\n';
    };
    let rootRect = null;
    let checkHidden = false;

    const visit = (node, isRoot) => {
      if (full) return;
      if (node.nodeType === Node.TEXT_NODE) {
        const value = node.data;
        if (!value) return;
        nodes.push({ node, start: text.length });
        text += value;
        if (text.length >= MAX_CHARS) {
          text = text.slice(0, MAX_CHARS);
          full = true;
        }
        return;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) {
        if (node.nodeType === Node.DOCUMENT_FRAGMENT_NODE) for (const c of [...node.childNodes]) visit(c, false);
        return;
      }
      const block = BLOCK.has(node.tagName);
      if (!isRoot) {
        if (node.matches(SKIP) || (exclude && exclude(node))) return;
        if (node.tagName === 'IMG') {
          // Emoji and inline images carry their meaning in alt text, but it maps to no text
          // node; a space keeps words apart without shifting later offsets' meaning.
          if (node.alt) text += ' ';
          return;
        }
        if (node.tagName === 'BR') {
          breakLine();
          return;
        }
        if (checkHidden && node.firstChild !== null && hiddenFromReader(node, rootRect)) return;
      }
      if (block) breakLine();
      for (const child of [...childrenOf(node)]) {
        visit(child, false);
        if (full) return;
      }
      if (block) breakLine();
    };

    for (const root of roots) {
      breakLine();
      // A post the reader cannot see at all (collapsed, in a hidden panel) is read whole:
      // hidden parts only count as hidden inside a post that shows.
      // Plain text with no elements inside has nothing to hide: no style or layout is read.
      checkHidden = (root.firstElementChild !== null || !!root.shadowRoot) &&
        typeof root.checkVisibility === 'function' && root.checkVisibility(VISIBILITY);
      rootRect = checkHidden ? root.getBoundingClientRect() : null;
      if (rootRect && rootRect.width * rootRect.height <= 1) {
        checkHidden = false;
        rootRect = null;
      }
      visit(root, true);
      if (full) break;
    }
    return { text, nodes };
  }

  // DOM Ranges for [start, end) UTF-16 spans of a previous extract().
  function ranges(extracted, spans) {
    const { nodes } = extracted;
    const out = [];
    const locate = (offset, preferEnd) => {
      // Binary search for the node holding `offset`.
      let lo = 0;
      let hi = nodes.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (nodes[mid].start < offset || (!preferEnd && nodes[mid].start === offset)) lo = mid;
        else hi = mid - 1;
      }
      const entry = nodes[lo];
      if (!entry) return null;
      const local = Math.min(Math.max(offset - entry.start, 0), entry.node.data.length);
      return { node: entry.node, offset: local };
    };
    for (const [start, end] of spans) {
      if (!(end > start)) continue;
      const a = locate(start, false);
      const b = locate(end, true);
      if (!a || !b || !a.node.isConnected || !b.node.isConnected) continue;
      try {
        const range = a.node.ownerDocument.createRange();
        range.setStart(a.node, a.offset);
        range.setEnd(b.node, b.offset);
        out.push(range);
      } catch {
        // The page changed the node under us, or the span crosses a shadow boundary; the
        // warning still lists the matched words.
      }
    }
    return out;
  }

  return { extract, ranges, MAX_CHARS };
})();
