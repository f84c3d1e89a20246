// Reads a post's own text from the DOM and maps offsets in it back to text nodes.
// Classic content script: shares the isolated world's global scope with the other scripts.

/* exported flagpostText */
const flagpostText = (() => {
  // Controls, counters, menus, media and our own warnings are not the post's text.
  const SKIP = [
    'button', '[role="button"]', '[role="menu"]', '[role="menubar"]', '[role="menuitem"]',
    '[role="toolbar"]', '[role="group"][aria-label]', 'menu', 'nav', 'script', 'style', 'noscript',
    'template', 'svg', 'canvas', 'video', 'audio', 'select', 'textarea', 'input', 'time',
    '[aria-hidden="true"]', 'flagpost-warning', '[data-flagpost-skip]', '[contenteditable="true"]',
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

  const MAX_CHARS = 65536;

  // Text of `roots` (in order), skipping `exclude(element)` subtrees. Returns
  // { text, nodes: [{ node, start }] } where `start` is the node's offset in `text`.
  function extract(roots, exclude) {
    let text = '';
    const nodes = [];
    const breakLine = () => {
      if (text.length && !/\s$/.test(text)) text += '\n';
    };
    for (const root of roots) {
      breakLine();
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
        acceptNode(node) {
          if (node.nodeType === Node.TEXT_NODE) return NodeFilter.FILTER_ACCEPT;
          if (node !== root && (node.matches(SKIP) || (exclude && exclude(node)))) return NodeFilter.FILTER_REJECT;
          return NodeFilter.FILTER_ACCEPT;
        },
      });
      let node = walker.currentNode;
      while ((node = walker.nextNode())) {
        if (node.nodeType === Node.TEXT_NODE) {
          const value = node.data;
          if (!value) continue;
          nodes.push({ node, start: text.length });
          text += value;
          if (text.length >= MAX_CHARS) return { text: text.slice(0, MAX_CHARS), nodes };
        } else if (BLOCK.has(node.tagName)) {
          breakLine();
        } else if (node.tagName === 'IMG' && node.alt) {
          // Emoji and inline images carry their meaning in alt text, but it maps to no text
          // node; a space keeps words apart without shifting later offsets' meaning.
          text += ' ';
        }
      }
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
        const range = document.createRange();
        range.setStart(a.node, a.offset);
        range.setEnd(b.node, b.offset);
        out.push(range);
      } catch {
        // The page changed the node under us; the next rescan will draw it again.
      }
    }
    return out;
  }

  return { extract, ranges, MAX_CHARS };
})();
