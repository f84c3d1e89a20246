// @ts-check
// The warning drawn on a flagged post: a host element just before the post's content that
// renders into a closed shadow root. Every page and rule string is set as text; it is
// keyboard-usable, labelled for screen readers, and light or dark to match the page. It
// carries the moderator's marks (right or wrong flag), "what can I do" links, and in
// highlight-only mode a small button on the post that opens the same warning. Notices (a
// dismissed warning's undo, a post flagged by hand) are drawn the same way.
//
// A hostile page must not be able to read, restyle, hijack or hide it:
//   - the host is created in an inert document (flagpostDom.create), so a custom element the
//     page defined with the same name cannot run its constructor for our createElement; its
//     shadow root is attached
//     (closed) before it reaches the page, so a constructor run on upgrade cannot take it;
//   - in the build users install the host is a plain element with no attribute, class or
//     name the page could select (the test build names it <flagpost-warning>);
//   - its own styles are inline and !important, starting from `all: initial`, which page
//     stylesheets cannot override; attributes the page sets on it are removed and the styles
//     put back at once;
//   - matched words, the blur cover and the highlight outline are drawn as an overlay inside
//     the same shadow root, not as attributes, classes or highlight names on the page.

/* global flagpostDom, flagpostText */
/* exported flagpostWarning */
const flagpostWarning = (() => {
  const CSS_TEXT = `
.box { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; border-radius: 8px;
  border: 1px solid var(--edge); background: var(--bg); color: var(--fg); padding: 8px 10px; text-align: start; }
.light { --bg: #fff7eb; --fg: #2e1c00; --edge: #b7791f; --muted: #5c4214; --btn: #ffffff; --btn-fg: #2e1c00; --focus: #0b57d0;
  --on: #1d5c2e; --on-fg: #ffffff; --off: #8c1d18; --off-fg: #ffffff; --link: #0b4fbf; --chip: #fff7eb; }
.dark { --bg: #33260f; --fg: #ffefd6; --edge: #d79a3e; --muted: #ebd3ab; --btn: #4a3818; --btn-fg: #ffefd6; --focus: #a8c7fa;
  --on: #a5e0b4; --on-fg: #0b2613; --off: #ffb4ab; --off-fg: #410002; --link: #a8c7fa; --chip: #33260f; }
.head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; }
.title { font-weight: 600; }
.sev { font-size: 12px; color: var(--muted); border: 1px solid var(--edge); border-radius: 10px; padding: 0 8px; }
.reason { flex: 1 1 16em; color: var(--muted); }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-left: auto; }
button { font: inherit; font-size: 13px; color: var(--btn-fg); background: var(--btn); border: 1px solid var(--edge);
  border-radius: 6px; padding: 2px 8px; cursor: pointer; }
button:focus-visible, a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
button.right[aria-pressed="true"] { background: var(--on); color: var(--on-fg); border-color: var(--on); }
button.wrong[aria-pressed="true"] { background: var(--off); color: var(--off-fg); border-color: var(--off); }
.details { margin-top: 8px; border-top: 1px solid var(--edge); padding-top: 6px; }
.details[hidden] { display: none; }
ul { margin: 4px 0; padding-left: 18px; }
li { margin: 2px 0; }
code { font: 12px ui-monospace, monospace; }
mark { background: #ffd54f; color: #1f1f1f; border-radius: 2px; padding: 0 2px; }
.meta { font-size: 12px; color: var(--muted); }
a { color: var(--link); }
.help { margin-top: 6px; display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; }
.help-title { font-weight: 600; }
.layer { position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: visible; pointer-events: none; }
.hit { position: absolute; background: rgba(255, 196, 0, 0.45); mix-blend-mode: multiply;
  border-bottom: 2px solid #b3261e; border-radius: 2px; pointer-events: none; }
.dark .hit, .hit.dark { mix-blend-mode: screen; background: rgba(255, 196, 0, 0.35); }
.outline { position: absolute; outline: 2px dashed #b7791f; outline-offset: 3px; pointer-events: none; }
.cover { position: absolute; pointer-events: auto; cursor: pointer; backdrop-filter: blur(9px);
  -webkit-backdrop-filter: blur(9px); background: rgba(128, 128, 128, 0.12); border-radius: 4px; }
.float { position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: visible; z-index: 2;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.chip { position: absolute; pointer-events: auto; font-size: 12px; padding: 1px 8px; border-radius: 10px;
  background: var(--chip); white-space: nowrap; }
.panel { position: absolute; pointer-events: auto; width: 420px; max-width: 90vw; box-shadow: 0 4px 16px rgba(0, 0, 0, .25); }
.panel[hidden] { display: none; }
.chip { font: 12px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.notice { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; padding: 4px 10px; }
`;

  // Inline, !important, so no page stylesheet can hide or restyle the host. `all` does not
  // reset custom properties: the shadow tree defines every one it uses on its own elements.
  const HOST_STYLE = [
    ['all', 'initial'], ['display', 'block'], ['position', 'relative'], ['z-index', '1'],
    ['visibility', 'visible'], ['opacity', '1'], ['pointer-events', 'auto'], ['direction', 'ltr'],
    ['unicode-bidi', 'isolate'], ['clip-path', 'none'], ['transform', 'none'], ['filter', 'none'],
  ];

  const MAX_ENFORCE = 20;

  // Where people report a post on each supported site ("what can I do").
  const REPORT_PAGES = {
    x: 'https://help.x.com/en/rules-and-policies/x-report-violation',
    vk: 'https://vk.com/support',
    facebook: 'https://www.facebook.com/help/reportlinks',
    telegram: 'https://telegram.org/faq#q-there-39s-illegal-content-on-telegram-how-do-i-take-it-down',
    reddit: 'https://www.reddit.com/report',
    mastodon: 'https://docs.joinmastodon.org/user/moderating/',
  };

  // Every element is made by flagpostDom.create, in a document with no custom-element registry.
  const { create: el, textNode } = flagpostDom;
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
      shadow.prepend(el('style', { text: CSS_TEXT }));
    }
  }

  const SEVERITY_ORDER = ['low', 'medium', 'high', 'critical'];

  // Is the page behind `node` dark? Looks for the nearest opaque background.
  function pageIsDark(node) {
    let e = node;
    const view = node.ownerDocument?.defaultView ?? document.defaultView;
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

  function link(href, text) {
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer', text });
  }

  // i18n: { t(key, ...args), tn(key, n, ...args), categoryName, ruleDescription, severityName }.
  function banner(post, mode, theme, i18n, handlers) {
    const { t } = i18n;
    const { verdict, text } = post;
    const rules = verdict.rules;
    const top = rules.reduce((a, b) =>
      SEVERITY_ORDER.indexOf(b.severity) > SEVERITY_ORDER.indexOf(a.severity) ? b : a, rules[0]);
    const categories = [...new Set(rules.map((r) => r.category))];
    const categoryNames = categories.map(i18n.categoryName).join(' · ');
    const id = `d${++serial}`;

    const details = el('div', { class: 'details', id, hidden: '' });
    details.append(el('div', { class: 'meta', text: `${t('w_score', formatNumber(verdict.score))} · ${i18n.tn('w_rulesFired', rules.length)}` }));
    const list = el('ul');
    for (const rule of rules) {
      const words = [...new Set(rule.spans.map(([s, e]) => text.slice(s, e)))];
      const item = el('li', {}, [
        el('code', { text: rule.id }),
        textNode(` — ${i18n.ruleDescription(rule) || i18n.categoryName(rule.category)} `),
        el('span', { class: 'meta', text: `(${t('w_ruleMeta', i18n.categoryName(rule.category), i18n.severityName(rule.severity), formatNumber(rule.weight), `${rule.pack} ${rule.packVersion}`)})` }),
      ]);
      if (words.length) {
        const matched = el('div', { class: 'meta' }, [textNode(`${t('w_matched')} `)]);
        words.slice(0, 12).forEach((w, i) => {
          if (i) matched.append(textNode(' '));
          matched.append(el('mark', { text: w }));
        });
        item.append(matched);
      }
      list.append(item);
    }
    details.append(list);

    // What can I do: report to the site, get help, turn Flagpost off here.
    const help = el('div', { class: 'help' }, [el('span', { class: 'help-title', text: t('w_whatCanIDo') })]);
    const report = REPORT_PAGES[post.site];
    if (report) help.append(link(report, t('w_reportToSite')));
    const helpButton = el('button', { type: 'button', class: 'help-page', text: t('w_getHelp') });
    helpButton.addEventListener('click', () => handlers.onHelp());
    const pause = el('button', { type: 'button', class: 'pause-site', text: t('w_turnOffHere') });
    pause.addEventListener('click', () => handlers.onPauseSite());
    help.append(helpButton, pause);
    details.append(help);

    const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'aria-controls': id, text: t('w_why') });
    toggle.addEventListener('click', () => {
      const open = details.hidden;
      details.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? t('w_hideDetails') : t('w_why');
    });
    const right = el('button', { type: 'button', class: 'right', 'aria-pressed': String(post.mark === true), text: t('w_rightFlag') });
    const wrong = el('button', { type: 'button', class: 'wrong', 'aria-pressed': String(post.mark === false), text: t('w_wrongFlag') });
    right.addEventListener('click', () => handlers.onMark(true));
    wrong.addEventListener('click', () => handlers.onMark(false));
    const dismiss = el('button', { type: 'button', class: 'dismiss', text: t('w_dismiss') });
    dismiss.addEventListener('click', () => handlers.onDismiss());
    const actions = el('div', { class: 'actions' }, [toggle, right, wrong]);
    if (mode === 'blur') {
      const reveal = el('button', { type: 'button', class: 'reveal', text: t('w_showAnyway') });
      reveal.addEventListener('click', () => {
        handlers.onReveal();
        toggle.focus();
      });
      actions.append(reveal);
    }
    actions.append(dismiss);

    return el('div', {
      class: `box ${theme}`, role: 'note',
      'aria-label': t('w_label', categoryNames, i18n.severityName(top.severity)),
    }, [
      el('div', { class: 'head' }, [
        el('span', { class: 'title', text: `⚑ ${categoryNames}` }),
        el('span', { class: 'sev', text: i18n.severityName(top.severity) }),
        el('span', { class: 'reason', text: i18n.ruleDescription(top) || t('w_matchedRule', top.id) }),
        actions,
      ]),
      details,
    ]);
  }

  // post: { text, verdict, extracted, contents, mark, site }; mode: banner | blur | highlight;
  // options: { revealed, tag, i18n, handlers: { onDismiss, onReveal, onMark, onHelp, onPauseSite } }.
  // Returns a view; the caller inserts view.host, then calls view.attached().
  function create(post, mode, options) {
    const anchor = post.contents[0];
    const doc = anchor.ownerDocument;
    const theme = pageIsDark(anchor) ? 'dark' : 'light';
    const host = el(options.tag || 'div');
    const shadow = host.attachShadow({ mode: 'closed' });
    const showBanner = mode !== 'highlight';
    applyHostStyle(host, showBanner);
    let revealed = !!options.revealed;
    const handlers = {
      ...options.handlers,
      onReveal: () => {
        revealed = true;
        box?.querySelector('.reveal')?.remove();
        layout();
        options.handlers.onReveal();
      },
    };
    const box = banner(post, mode, theme, options.i18n, handlers);
    if (revealed) box.querySelector('.reveal')?.remove();
    // Highlight-only: a small button on the post opens the same warning as a panel.
    let chip = null;
    let panel = null;
    const float = el('div', { class: `float ${theme}` });
    if (showBanner) shadow.append(box);
    else {
      const panelId = `p${++serial}`;
      chip = el('button', { type: 'button', class: 'chip', 'aria-expanded': 'false', 'aria-controls': panelId, text: `⚑ ${options.i18n.t('w_whyFlagged')}` });
      panel = el('div', { class: 'panel', id: panelId, hidden: '' }, [box]);
      chip.addEventListener('click', () => {
        panel.hidden = !panel.hidden;
        chip.setAttribute('aria-expanded', String(!panel.hidden));
        if (!panel.hidden) /** @type {HTMLButtonElement | null} */ (box.querySelector('button.toggle'))?.focus();
      });
      float.append(chip, panel);
      shadow.append(float);
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
      let first = null;
      for (const c of post.contents) {
        if (!c.isConnected) continue;
        const r = c.getBoundingClientRect();
        first ??= r;
        if (mode === 'highlight') parts.push(rectBox('outline', r, base));
        if (mode === 'blur' && !revealed) {
          const cover = rectBox('cover', r, base);
          cover.setAttribute('title', options.i18n.t('w_clickToShow'));
          cover.addEventListener('click', (event) => {
            event.preventDefault();
            event.stopPropagation();
            handlers.onReveal();
          });
          parts.push(cover);
        }
      }
      for (const range of ranges) {
        for (const r of range.getClientRects()) if (r.width > 0 && r.height > 0) parts.push(rectBox('hit', r, base));
      }
      layer.replaceChildren(...parts);
      if (chip && first) {
        chip.style.left = `${first.left - base.left}px`;
        chip.style.top = `${first.top - base.top - 24}px`;
        panel.style.left = `${first.left - base.left}px`;
        panel.style.top = `${first.top - base.top}px`;
      }
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
        box.querySelector('.reveal')?.remove();
        layout();
      },
      setMark(label) {
        box.querySelector('button.right')?.setAttribute('aria-pressed', String(label === true));
        box.querySelector('button.wrong')?.setAttribute('aria-pressed', String(label === false));
      },
      focusTarget() {
        return chip ?? shadow.querySelector('button');
      },
      focusDismiss() {
        if (chip && panel.hidden) chip.click();
        (box.querySelector('button.dismiss') ?? chip)?.focus();
      },
      hasFocus() {
        return !!shadow.activeElement;
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

  // A one-line notice drawn before `anchor` (a dismissed warning's undo, a post flagged by
  // hand): message, one action button, gone after `timeout` ms. onExpire(hadFocus) runs
  // when it goes by itself.
  function notice(anchor, { tag, message, action, onAction, timeout = 10000, onExpire }) {
    const theme = pageIsDark(anchor) ? 'dark' : 'light';
    const host = el(tag || 'div');
    const shadow = host.attachShadow({ mode: 'closed' });
    applyHostStyle(host, true);
    const button = el('button', { type: 'button', class: 'notice-action', text: action });
    const box = el('div', { class: `box notice ${theme}`, role: 'status' }, [el('span', { class: 'notice-text', text: message }), button]);
    shadow.append(box);
    let timer = 0;
    const view = {
      host,
      shadow,
      attached() {
        adoptStyle(shadow, host.ownerDocument ?? document);
        applyHostStyle(host, true);
        timer = setTimeout(() => {
          const hadFocus = !!shadow.activeElement;
          view.destroy();
          onExpire?.(hadFocus);
        }, timeout);
      },
      focus() {
        button.focus({ preventScroll: true });
      },
      destroy() {
        clearTimeout(timer);
        host.remove();
      },
    };
    button.addEventListener('click', () => {
      view.destroy();
      onAction();
    });
    return view;
  }

  function formatNumber(n) {
    return Number.isInteger(n) ? String(n) : Number(n).toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
  }

  return { create, notice };
})();
