// The warning drawn on a flagged post: a host element just before the post's content that
// renders into a closed shadow root. Every page and rule string is set as text; it is
// keyboard-usable, labelled for screen readers, and light or dark to match the page.
//
// A hostile page must not be able to read, restyle, hijack or hide it:
//   - the host is created in an inert document, so a custom element the page defined with the
//     same name cannot run its constructor for our createElement; its shadow root is attached
//     (closed) before it reaches the page, so a constructor run on upgrade cannot take it;
//   - in the build users install the host is a plain element with no attribute, class or
//     name the page could select (the test build names it <flagpost-warning>);
//   - its own styles are inline and !important, starting from `all: initial`, which page
//     stylesheets cannot override; attributes the page sets on it are removed and the styles
//     put back at once;
//   - matched words, the blur cover and the highlight outline are drawn as an overlay inside
//     the same shadow root, not as attributes, classes or highlight names on the page.

/* exported flagpostWarning */
const flagpostWarning = (() => {
  const CSS_TEXT = `
.box { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; border-radius: 8px;
  border: 1px solid var(--edge); background: var(--bg); color: var(--fg); padding: 8px 10px; text-align: start; }
.light { --bg: #fff4e5; --fg: #3b2300; --edge: #e6a23c; --muted: #6b4e16; --btn: #fff; --btn-fg: #3b2300; --focus: #0b57d0; --sev: #b3261e; }
.dark { --bg: #3a2a12; --fg: #ffe9c7; --edge: #c98a2b; --muted: #e3c79a; --btn: #54401f; --btn-fg: #ffe9c7; --focus: #8ab4f8; --sev: #ffb4ab; }
.head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; }
.title { font-weight: 600; }
.sev { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--sev); font-weight: 700; }
.reason { flex: 1 1 16em; color: var(--muted); }
.actions { display: flex; gap: 6px; margin-left: auto; }
button { font: inherit; font-size: 13px; color: var(--btn-fg); background: var(--btn); border: 1px solid var(--edge);
  border-radius: 6px; padding: 2px 8px; cursor: pointer; }
button:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
.details { margin-top: 8px; border-top: 1px solid var(--edge); padding-top: 6px; }
.details[hidden] { display: none; }
ul { margin: 4px 0; padding-left: 18px; }
li { margin: 2px 0; }
code { font: 12px ui-monospace, monospace; }
mark { background: #ffd54f; color: #1f1f1f; border-radius: 2px; padding: 0 2px; }
.meta { font-size: 12px; color: var(--muted); }
.layer { position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: visible; pointer-events: none; }
.hit { position: absolute; background: rgba(255, 196, 0, 0.45); mix-blend-mode: multiply;
  border-bottom: 2px solid #b3261e; border-radius: 2px; pointer-events: none; }
.dark .hit, .hit.dark { mix-blend-mode: screen; background: rgba(255, 196, 0, 0.35); }
.outline { position: absolute; outline: 2px dashed #d08c00; outline-offset: 3px; pointer-events: none; }
.cover { position: absolute; pointer-events: auto; cursor: pointer; backdrop-filter: blur(9px);
  -webkit-backdrop-filter: blur(9px); background: rgba(128, 128, 128, 0.12); border-radius: 4px; }
`;

  // Inline, !important, so no page stylesheet can hide or restyle the host. `all` does not
  // reset custom properties: the shadow tree defines every one it uses on its own elements.
  const HOST_STYLE = [
    ['all', 'initial'], ['display', 'block'], ['position', 'relative'], ['z-index', '1'],
    ['visibility', 'visible'], ['opacity', '1'], ['pointer-events', 'auto'], ['direction', 'ltr'],
    ['unicode-bidi', 'isolate'], ['clip-path', 'none'], ['transform', 'none'], ['filter', 'none'],
  ];

  const MAX_ENFORCE = 20;

  // Elements made here cannot be custom elements of the page: this document has no registry.
  const inert = document.implementation.createHTMLDocument('');
  const sheets = new WeakMap(); // document → constructed sheet (a sheet is tied to its document)

  function applyHostStyle(host, banner) {
    const s = host.style;
    for (const [k, v] of HOST_STYLE) s.setProperty(k, v, 'important');
    s.setProperty('margin', banner ? '6px 0' : '0', 'important');
    s.setProperty('height', banner ? 'auto' : '0', 'important');
    s.setProperty('min-height', '0', 'important');
    s.setProperty('max-height', 'none', 'important');
    s.setProperty('overflow', 'visible', 'important');
  }

  function adoptStyle(shadow, doc) {
    try {
      let sheet = sheets.get(doc);
      if (!sheet) {
        const Sheet = doc.defaultView?.CSSStyleSheet ?? CSSStyleSheet;
        sheet = new Sheet();
        sheet.replaceSync(CSS_TEXT);
        sheets.set(doc, sheet);
      }
      shadow.adoptedStyleSheets = [sheet];
      return;
    } catch {
      // Some content-script worlds cannot adopt sheets; a style element works there.
    }
    if (!shadow.querySelector('style')) {
      const style = inert.createElement('style');
      style.textContent = CSS_TEXT;
      shadow.prepend(style);
    }
  }

  const SEVERITY_ORDER = ['low', 'medium', 'high', 'critical'];
  const categoryName = flagpostCategoryName;

  function el(tag, props = {}, children = []) {
    const node = inert.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  // Is the page behind `node` dark? Looks for the nearest opaque background.
  function pageIsDark(node) {
    let e = node;
    const view = node.ownerDocument?.defaultView ?? window;
    while (e && e.nodeType === Node.ELEMENT_NODE) {
      const bg = view.getComputedStyle(e).backgroundColor;
      const m = bg.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?/);
      if (m && (m[4] === undefined || Number(m[4]) > 0.5)) {
        const [r, g, b] = [m[1], m[2], m[3]].map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b < 110;
      }
      e = e.parentElement ?? e.getRootNode().host ?? null;
    }
    return view.matchMedia('(prefers-color-scheme: dark)').matches;
  }

  let serial = 0;

  function banner(post, mode, theme, handlers) {
    const { verdict, text } = post;
    const rules = verdict.rules;
    const top = rules.reduce((a, b) =>
      SEVERITY_ORDER.indexOf(b.severity) > SEVERITY_ORDER.indexOf(a.severity) ? b : a, rules[0]);
    const categories = [...new Set(rules.map((r) => r.category))];
    const id = `d${++serial}`;

    const details = el('div', { class: 'details', id, hidden: '' });
    details.append(el('div', { class: 'meta', text:
      `Score ${formatNumber(verdict.score)} · ${rules.length} rule${rules.length === 1 ? '' : 's'} fired` }));
    const list = el('ul');
    for (const rule of rules) {
      const words = [...new Set(rule.spans.map(([s, e]) => text.slice(s, e)))];
      const item = el('li', {}, [
        el('code', { text: rule.id }),
        inert.createTextNode(` — ${rule.description || categoryName(rule.category)} `),
        el('span', { class: 'meta', text: `(${categoryName(rule.category)}, ${rule.severity}, weight ${formatNumber(rule.weight)}; pack ${rule.pack} ${rule.packVersion})` }),
      ]);
      if (words.length) {
        const matched = el('div', { class: 'meta' }, [inert.createTextNode('Matched: ')]);
        words.slice(0, 12).forEach((w, i) => {
          if (i) matched.append(inert.createTextNode(' '));
          matched.append(el('mark', { text: w }));
        });
        item.append(matched);
      }
      list.append(item);
    }
    details.append(list);

    const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'aria-controls': id, text: 'Why?' });
    toggle.addEventListener('click', () => {
      const open = details.hidden;
      details.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Hide details' : 'Why?';
    });
    const dismiss = el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss this warning', text: 'Dismiss' });
    dismiss.addEventListener('click', () => handlers.onDismiss());
    const actions = el('div', { class: 'actions' }, [toggle]);
    if (mode === 'blur') {
      const reveal = el('button', { type: 'button', class: 'reveal', text: 'Show anyway' });
      reveal.addEventListener('click', () => {
        handlers.onReveal();
        toggle.focus();
      });
      actions.append(reveal);
    }
    actions.append(dismiss);

    return el('div', {
      class: `box ${theme}`, part: 'box', role: 'note',
      'aria-label': `Flagpost warning: ${categories.map(categoryName).join(', ')}, ${top.severity} severity`,
    }, [
      el('div', { class: 'head' }, [
        el('span', { class: 'title', text: `⚑ ${categories.map(categoryName).join(' · ')}` }),
        el('span', { class: 'sev', text: top.severity }),
        el('span', { class: 'reason', text: top.description || `Matched rule ${top.id}` }),
        actions,
      ]),
      details,
    ]);
  }

  // post: { text, verdict, extracted, contents }; mode: banner | blur | highlight;
  // options: { revealed, tag, handlers: { onDismiss, onReveal } }.
  // Returns a view; the caller inserts view.host, then calls view.attached().
  function create(post, mode, options) {
    const anchor = post.contents[0];
    const doc = anchor.ownerDocument;
    const theme = pageIsDark(anchor) ? 'dark' : 'light';
    const host = inert.createElement(options.tag || 'div');
    const shadow = host.attachShadow({ mode: 'closed' });
    const showBanner = mode !== 'highlight';
    applyHostStyle(host, showBanner);
    let revealed = !!options.revealed;
    let box = null;
    if (showBanner) {
      box = banner(post, mode, theme, {
        onDismiss: options.handlers.onDismiss,
        onReveal: () => {
          revealed = true;
          box.querySelector('.reveal')?.remove();
          layout();
          options.handlers.onReveal();
        },
      });
      if (revealed) box.querySelector('.reveal')?.remove();
      shadow.append(box);
    }
    const layer = el('div', { class: `layer ${theme}` });
    shadow.append(layer);

    const spans = post.verdict.rules.flatMap((r) => r.spans);
    const ranges = flagpostText.ranges(post.extracted, spans);

    function rectBox(cls, r, base) {
      const b = el('div', { class: cls });
      b.style.left = `${r.left - base.left}px`;
      b.style.top = `${r.top - base.top}px`;
      b.style.width = `${r.width}px`;
      b.style.height = `${r.height}px`;
      return b;
    }

    // Positions the overlay from the live layout: relative to the host, so it scrolls with
    // the post and needs no work on scroll.
    function layout() {
      if (!host.isConnected) return;
      const base = host.getBoundingClientRect();
      const parts = [];
      for (const c of post.contents) {
        if (!c.isConnected) continue;
        const r = c.getBoundingClientRect();
        if (mode === 'highlight') parts.push(rectBox('outline', r, base));
        if (mode === 'blur' && !revealed) {
          const cover = rectBox('cover', r, base);
          cover.setAttribute('title', 'Click to show this post');
          cover.addEventListener('click', (event) => {
            event.preventDefault();
            event.stopPropagation();
            revealed = true;
            box?.querySelector('.reveal')?.remove();
            layout();
            options.handlers.onReveal();
          });
          parts.push(cover);
        }
      }
      for (const range of ranges) {
        for (const r of range.getClientRects()) if (r.width > 0 && r.height > 0) parts.push(rectBox('hit', r, base));
      }
      layer.replaceChildren(...parts);
    }

    let resize = null;
    // Attributes the page sets on the host are taken off and the styles put back at once;
    // a page that keeps at it wins after MAX_ENFORCE rounds rather than keep both busy.
    let enforced = 0;
    const guard = new MutationObserver(() => {
      if (++enforced > MAX_ENFORCE) {
        guard.disconnect();
        return;
      }
      enforce();
      guard.takeRecords();
    });
    function enforce() {
      for (const a of [...host.attributes]) host.removeAttribute(a.name);
      applyHostStyle(host, showBanner);
    }

    return {
      host,
      shadow,
      get revealed() { return revealed; },
      // Called once the host is in the page.
      attached() {
        enforce(); // a page's custom element may have run code on it as it went in
        adoptStyle(shadow, host.ownerDocument ?? doc);
        guard.observe(host, { attributes: true });
        if (!resize && typeof ResizeObserver === 'function') {
          resize = new ResizeObserver(() => layout());
          resize.observe(host);
          for (const c of post.contents) resize.observe(c);
        }
        layout();
      },
      layout,
      reveal() {
        revealed = true;
        box?.querySelector('.reveal')?.remove();
        layout();
      },
      focusTarget() {
        return shadow.querySelector('button');
      },
      marks() {
        return layer.querySelectorAll('.hit').length;
      },
      destroy() {
        guard.disconnect();
        resize?.disconnect();
        host.remove();
      },
    };
  }

  function formatNumber(n) {
    return Number.isInteger(n) ? String(n) : Number(n).toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
  }

  return { create, categoryName };
})();
