// The <flagpost-warning> element: its own shadow root, every page and rule string set as
// text, keyboard-usable, labelled for screen readers, light or dark to match the page.

/* exported flagpostWarning */
const flagpostWarning = (() => {
  const CSS_TEXT = `
:host { all: initial; display: block; margin: 6px 0; contain: content; }
.box { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; border-radius: 8px;
  border: 1px solid var(--edge); background: var(--bg); color: var(--fg); padding: 8px 10px; }
:host([data-theme="light"]) { --bg: #fff4e5; --fg: #3b2300; --edge: #e6a23c; --muted: #6b4e16; --btn: #fff; --btn-fg: #3b2300; --focus: #0b57d0; --sev: #b3261e; }
:host([data-theme="dark"]) { --bg: #3a2a12; --fg: #ffe9c7; --edge: #c98a2b; --muted: #e3c79a; --btn: #54401f; --btn-fg: #ffe9c7; --focus: #8ab4f8; --sev: #ffb4ab; }
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
`;

  let sheet = null;
  function attachStyle(shadow) {
    try {
      sheet ??= new CSSStyleSheet();
      if (!sheet.cssRules.length) sheet.replaceSync(CSS_TEXT);
      shadow.adoptedStyleSheets = [sheet];
      return;
    } catch {
      // Some content-script worlds cannot adopt sheets; a style element works there.
    }
    const style = document.createElement('style');
    style.textContent = CSS_TEXT;
    shadow.append(style);
  }

  const SEVERITY_ORDER = ['low', 'medium', 'high', 'critical'];
  const categoryName = flagpostCategoryName;

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  // Is the page behind `node` dark? Looks for the nearest opaque background.
  function pageIsDark(node) {
    let el = node;
    while (el && el.nodeType === Node.ELEMENT_NODE) {
      const bg = getComputedStyle(el).backgroundColor;
      const m = bg.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?/);
      if (m && (m[4] === undefined || Number(m[4]) > 0.5)) {
        const [r, g, b] = [m[1], m[2], m[3]].map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b < 110;
      }
      el = el.parentElement;
    }
    return matchMedia('(prefers-color-scheme: dark)').matches;
  }

  let serial = 0;

  // post: { text, verdict: { score, rules: [...] } }; handlers: { onDismiss, onReveal }.
  function create(post, mode, anchor, handlers) {
    const { verdict, text } = post;
    const rules = verdict.rules;
    const top = rules.reduce((a, b) =>
      SEVERITY_ORDER.indexOf(b.severity) > SEVERITY_ORDER.indexOf(a.severity) ? b : a, rules[0]);
    const categories = [...new Set(rules.map((r) => r.category))];
    const id = `flagpost-details-${++serial}`;

    const host = document.createElement('flagpost-warning');
    host.dataset.theme = pageIsDark(anchor) ? 'dark' : 'light';
    host.setAttribute('role', 'note');
    host.setAttribute('aria-label', `Flagpost warning: ${categories.map(categoryName).join(', ')}, ${top.severity} severity`);
    const shadow = host.attachShadow({ mode: 'open' });
    attachStyle(shadow);

    const details = el('div', { class: 'details', id, hidden: '' });
    details.append(el('div', { class: 'meta', text:
      `Score ${formatNumber(verdict.score)} · ${rules.length} rule${rules.length === 1 ? '' : 's'} fired` }));
    const list = el('ul');
    for (const rule of rules) {
      const words = [...new Set(rule.spans.map(([s, e]) => text.slice(s, e)))];
      const item = el('li', {}, [
        el('code', { text: rule.id }),
        document.createTextNode(` — ${rule.description || categoryName(rule.category)} `),
        el('span', { class: 'meta', text: `(${categoryName(rule.category)}, ${rule.severity}, weight ${formatNumber(rule.weight)}; pack ${rule.pack} ${rule.packVersion})` }),
      ]);
      if (words.length) {
        const matched = el('div', { class: 'meta' }, [document.createTextNode('Matched: ')]);
        words.slice(0, 12).forEach((w, i) => {
          if (i) matched.append(document.createTextNode(' '));
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
        reveal.remove();
        toggle.focus();
      });
      actions.append(reveal);
    }
    actions.append(dismiss);

    const box = el('div', { class: 'box', part: 'box' }, [
      el('div', { class: 'head' }, [
        el('span', { class: 'title', text: `⚑ ${categories.map(categoryName).join(' · ')}` }),
        el('span', { class: 'sev', text: top.severity }),
        el('span', { class: 'reason', text: top.description || `Matched rule ${top.id}` }),
        actions,
      ]),
      details,
    ]);
    shadow.append(box);
    return host;
  }

  function formatNumber(n) {
    return Number.isInteger(n) ? String(n) : Number(n).toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
  }

  return { create, categoryName };
})();
