// @ts-check
// Finds posts, sends their text to the background in batches, and warns on the flagged ones.
// One MutationObserver; work is batched per frame within a time budget.
//
// Everything lives in this closure. Nothing is put on the global object or read back from it:
// in Chromium a page's named elements (<div id="…">) show up on the content script's
// globalThis too, so a global flag could be set by the page to switch Flagpost off. The page
// cannot see or change these variables. (The scripts listed before this one define their
// modules as top-level consts, which page elements cannot shadow either; loading the same
// files twice into one world fails at those declarations before anything runs.)

/* global flagpostApi, flagpostBuild, flagpostProtocol, flagpostLimits, flagpostDom, flagpostAdapters, flagpostText, flagpostWarning */

(() => {
  // Taken at document_start (api.js): by now `chrome` and `browser` may name page elements.
  const api = flagpostApi;
  if (!api) return;
  const P = flagpostProtocol;
  const TEST_MARKERS = flagpostBuild.testMarkers === true;
  const HOST_TAG = TEST_MARKERS ? 'flagpost-warning' : 'div';
  const NOTICE_TAG = TEST_MARKERS ? 'flagpost-notice' : 'div';
  const FRAME_BUDGET_MS = 6;
  const MAX_BATCH_POSTS = flagpostLimits.batchPosts;
  const MAX_REDRAWS = 3; // how often a warning the page removed is put back

  let enabled = false;
  let mode = 'banner';
  let generation = 0; // bumped when packs change: every post is scanned again
  let adapter = flagpostAdapters.choose(document);
  let lastDetect = 0;
  let lastUrl = location.href;

  const records = new WeakMap(); // post element → what we know about it
  const hosts = new WeakMap(); // our warning hosts → their post
  const flaggedPosts = new Set();
  const markedPosts = new Set(); // posts carrying test markers (test build only)
  const pendingRoots = new Set(); // added subtrees to search for posts
  const changedNodes = new Set(); // nodes whose enclosing post's text may have changed
  const pendingPosts = new Set();
  const observedRoots = new WeakSet(); // shadow roots and frame documents we observe
  const watchedFrames = new WeakSet();
  const outbox = [];
  const inflight = new Map();
  let batchSeq = 0;
  let scheduled = false;
  let observing = false;
  let port = null;
  let cursor = -1;
  let countTimer = 0;
  let retryTimer = 0;
  let markSeq = 0;
  const pendingMarks = new Map(); // ref → what to do with the background's answer
  let lastContextTarget = null; // what the context menu was opened on ("Flag this post")

  // ---- words: sent by the background in the user's language ----

  let locale = 'en';
  let strings = {};
  const format = (message, args) => message.replace(/\$(\d)/g, (m, d) => (args[d - 1] === undefined ? m : String(args[d - 1])));
  const i18n = {
    t: (key, ...args) => (key in strings ? format(strings[key], args) : key),
    tn(key, n, ...args) {
      let category;
      try {
        category = new Intl.PluralRules(locale).select(n);
      } catch {
        category = 'other';
      }
      const message = strings[`${key}_${category}`] ?? strings[`${key}_other`];
      return message === undefined ? key : format(message, [n, ...args]);
    },
    categoryName(category) {
      const message = strings[`cat_${category}`];
      if (message !== undefined) return message;
      const words = String(category).replace(/_/g, ' ');
      return words.charAt(0).toUpperCase() + words.slice(1);
    },
    ruleDescription(rule) {
      if (rule.pack === 'recruitment' && locale !== 'en') {
        const message = strings[`rule_${String(rule.id).replace(/[^A-Za-z0-9_]/g, '_')}`];
        if (message !== undefined) return message;
      }
      return rule.description ?? '';
    },
    severityName: (severity) => strings[`sev_${severity}`] ?? String(severity),
  };

  const isOurs = (node) => node.nodeType === Node.ELEMENT_NODE && hosts.has(node);

  // ---- background connection ----

  function connect() {
    try {
      port = api.runtime.connect({ name: P.port });
    } catch {
      shutdown(); // The extension was updated or removed under this page.
      return null;
    }
    port.onMessage.addListener(onPortMessage);
    port.onDisconnect.addListener(() => {
      port = null;
      // A stopped worker loses the batches it had; scan those posts again on reconnect.
      requeue([...inflight.values()].flat());
      inflight.clear();
      if (pendingPosts.size && enabled) setTimeout(schedule, 50);
    });
    port.postMessage({ type: P.fromContent.hello });
    return port;
  }

  function requeue(entries) {
    for (const e of entries) {
      const rec = records.get(e.post);
      if (rec && rec.seq === e.seq) {
        rec.text = null;
        pendingPosts.add(e.post);
      }
    }
  }

  /** @param {import('../lib/protocol.js').ContentMessage} msg */
  function send(msg) {
    const p = port ?? connect();
    if (!p) return false;
    try {
      p.postMessage(msg);
      return true;
    } catch {
      port = null;
      return false;
    }
  }

  function onPortMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === P.toContent.config) {
      const next = P.modes.includes(msg.mode) ? msg.mode : 'banner';
      const nextLocale = P.locales.includes(msg.locale) ? msg.locale : 'en';
      const modeChanged = next !== mode || nextLocale !== locale;
      mode = next;
      locale = nextLocale;
      if (msg.strings && typeof msg.strings === 'object') strings = msg.strings;
      if (msg.enabled && !enabled) start();
      else if (!msg.enabled && enabled) stop();
      else if (enabled && modeChanged) redrawAll();
    } else if (msg.type === P.toContent.verdicts && Number.isInteger(msg.id) && Array.isArray(msg.results)) {
      onVerdicts(msg);
    } else if (msg.type === P.toContent.marked && Number.isInteger(msg.ref)) {
      const done = pendingMarks.get(msg.ref);
      pendingMarks.delete(msg.ref);
      done?.(msg.ok === true, msg.label);
    } else if (msg.type === P.toContent.rescan) {
      generation += 1;
      if (enabled) {
        pendingRoots.add(document.body ?? document.documentElement);
        schedule();
      }
    }
  }

  // ---- scheduling ----

  function schedule() {
    if (scheduled || !enabled) return;
    scheduled = true;
    // A stopped worker takes tens of milliseconds to start: on a page that has had posts, wake
    // it now, while this frame's posts are still being collected. (A page that never had any
    // does not wake it for each change of its DOM.)
    if (!port && batchSeq > 0) connect();
    if (document.hidden) setTimeout(flush, 16);
    else requestAnimationFrame(flush);
  }

  const OBSERVE = { childList: true, subtree: true, characterData: true };

  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') {
        changedNodes.add(m.target);
        continue;
      }
      let changed = false;
      for (const node of m.addedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE) {
          if (!isOurs(node)) pendingRoots.add(node);
        } else if (node.nodeType === Node.TEXT_NODE) {
          changed = true;
        }
      }
      for (const node of m.removedNodes) {
        if (isOurs(node)) onHostRemoved(node);
        else changed = true;
      }
      if (changed) changedNodes.add(m.target);
    }
    schedule();
  });

  // A warning the page took out is put back (a few times: a page that keeps removing it
  // must not keep us busy).
  function onHostRemoved(host) {
    const post = hosts.get(host);
    const rec = post && records.get(post);
    if (!rec || rec.view?.host !== host || rec.removing) return;
    if (!post.isConnected || rec.dismissed || !rec.verdict) return;
    if (rec.redraws >= MAX_REDRAWS) return;
    rec.redraws += 1;
    queueMicrotask(() => {
      if (post.isConnected && rec.view?.host === host && !host.isConnected) safely(() => draw(post, rec));
    });
  }

  // Shadow roots and same-origin frames hold text a reader sees: search and observe them too.
  function observeRoot(root) {
    if (observedRoots.has(root)) return;
    observedRoots.add(root);
    observer.observe(root, OBSERVE);
    pendingRoots.add(root);
  }

  function watchFrame(frame) {
    if (!watchedFrames.has(frame)) {
      watchedFrames.add(frame);
      frame.addEventListener('load', () => {
        if (enabled) {
          watchFrame(frame);
          schedule();
        }
      });
    }
    let doc;
    try {
      doc = frame.contentDocument; // null for frames of another origin
    } catch {
      doc = null;
    }
    if (doc?.documentElement && !observedRoots.has(doc)) {
      observedRoots.add(doc);
      observer.observe(doc.documentElement, OBSERVE);
      pendingRoots.add(doc.body ?? doc.documentElement);
    }
  }

  function discover(root) {
    const start = root.nodeType === Node.ELEMENT_NODE ? root : root.firstElementChild;
    if (!start) return;
    const walker = (root.ownerDocument ?? root).createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    for (let el = walker.currentNode; el; el = walker.nextNode()) {
      if (el.nodeType !== Node.ELEMENT_NODE) continue;
      if (el.shadowRoot && !isOurs(el)) observeRoot(el.shadowRoot);
      if (el.localName === 'iframe' || el.localName === 'frame') watchFrame(el);
    }
  }

  function maybeRedetect(now) {
    const navigated = location.href !== lastUrl;
    if (!navigated && (adapter !== flagpostAdapters.generic || now - lastDetect < 1000)) return;
    lastUrl = location.href;
    lastDetect = now;
    const next = flagpostAdapters.choose(document);
    if (next !== adapter) {
      adapter = next;
      pendingRoots.add(document.body);
    }
  }

  function flush() {
    scheduled = false;
    if (!enabled) return;
    const start = performance.now();
    const deadline = start + FRAME_BUDGET_MS;
    maybeRedetect(start);

    for (const node of changedNodes) {
      changedNodes.delete(node);
      if (!node.isConnected) continue;
      const post = safely(() => adapter.postOf(node));
      if (post) pendingPosts.add(post);
    }
    for (const root of pendingRoots) {
      pendingRoots.delete(root);
      if (!root.isConnected) continue;
      safely(() => {
        discover(root);
        for (const post of adapter.posts(root)) pendingPosts.add(post);
        const parent = root.parentElement ?? root.host;
        const up = parent && adapter.postOf(parent);
        if (up) pendingPosts.add(up);
      });
      if (performance.now() > deadline) break;
    }
    for (const post of pendingPosts) {
      pendingPosts.delete(post);
      if (post.isConnected) safely(() => prepare(post));
      if (outbox.length >= MAX_BATCH_POSTS) sendBatch();
      if (performance.now() > deadline) break;
    }
    sendBatch();
    if (pendingRoots.size || pendingPosts.size || changedNodes.size) schedule();
  }

  // One post's failure (a page that breaks some DOM call on it) never stops the others.
  function safely(fn) {
    try {
      return fn();
    } catch {
      return undefined;
    }
  }

  // Reads a post's text and queues it when it is new or changed.
  function prepare(post) {
    const contents = adapter.contentOf(post);
    if (!contents.length) return;
    const extracted = flagpostText.extract(contents, (el) => isOurs(el) || (el !== post && adapter.exclude(el)));
    const text = extracted.text;
    const context = adapter.contextOf(post) ?? '';
    let rec = records.get(post);
    if (rec && rec.text === text && rec.context === context && rec.generation === generation) return;
    if (!text.trim()) return;
    if (!rec) {
      rec = { seq: 0, text: null, context: '', generation, extracted: null, contents: null, verdict: null,
        view: null, dismissed: false, revealed: false, flaggedAt: 0, redraws: 0, removing: false, mark: null, notice: null,
        hits: null };
      records.set(post, rec);
    }
    rec.seq += 1;
    rec.text = text;
    rec.context = context;
    rec.generation = generation;
    rec.extracted = extracted;
    rec.contents = contents;
    outbox.push({ post, seq: rec.seq, text, context });
  }

  function sendBatch() {
    if (!outbox.length) return;
    const entries = outbox.splice(0, outbox.length);
    const id = ++batchSeq;
    inflight.set(id, entries);
    const msg = { type: P.fromContent.scan, id, texts: entries.map((e) => e.text) };
    if (entries.some((e) => e.context)) msg.contexts = entries.map((e) => e.context);
    if (!send(msg)) {
      inflight.delete(id);
      for (const e of entries) {
        const rec = records.get(e.post);
        if (rec) rec.text = null;
      }
    }
  }

  // ---- verdicts ----

  /** @param {import('../lib/protocol.js').VerdictsMessage} msg */
  function onVerdicts(msg) {
    const entries = inflight.get(msg.id);
    if (!entries) return;
    inflight.delete(msg.id);
    if (msg.error === P.scanErrors.busy) {
      // The background is scanning a lot for this tab: try these posts again shortly.
      requeue(entries);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(schedule, 250);
      return;
    }
    const byIndex = new Map();
    for (const r of msg.results) if (r && Number.isInteger(r.i)) byIndex.set(r.i, r);
    entries.forEach((entry, i) => {
      const rec = records.get(entry.post);
      if (!rec || rec.seq !== entry.seq || !enabled) return; // a newer scan of this post is coming
      const result = byIndex.get(i);
      safely(() => {
        rec.hits = Array.isArray(result?.rules) && result.rules.length ? result.rules : null;
        if (result?.flagged && Array.isArray(result.rules) && result.rules.length) markFlagged(entry.post, rec, result);
        else markClean(entry.post, rec);
      });
    });
    scheduleCount();
  }

  // Page-readable markers for end-to-end tests; the build users install sets none.
  function setMarkers(post, verdict) {
    if (!TEST_MARKERS) return;
    markedPosts.add(post);
    if (!verdict) {
      post.setAttribute('data-flagpost', 'clean');
      post.removeAttribute('data-flagpost-rules');
      post.removeAttribute('data-flagpost-score');
      return;
    }
    post.setAttribute('data-flagpost', 'flagged');
    post.setAttribute('data-flagpost-rules', [...new Set(verdict.rules.map((r) => r.id))].join(' '));
    post.setAttribute('data-flagpost-score', String(Math.round(verdict.score * 1000) / 1000));
  }

  function clearMarkers(post) {
    if (!TEST_MARKERS) return;
    post.removeAttribute('data-flagpost');
    post.removeAttribute('data-flagpost-rules');
    post.removeAttribute('data-flagpost-score');
  }

  function markClean(post, rec) {
    clearDrawing(rec);
    rec.verdict = null;
    flaggedPosts.delete(post);
    setMarkers(post, null);
  }

  function markFlagged(post, rec, result) {
    const same = rec.verdict && sameRules(rec.verdict, result);
    rec.verdict = { score: result.score, rules: result.rules, truncated: result.truncated };
    rec.flaggedAt ||= Date.now();
    if (!same) rec.dismissed = false;
    if (result.dismissed === true) rec.dismissed = true;
    rec.mark = result.mark === true || result.mark === false ? result.mark : rec.mark;
    flaggedPosts.add(post);
    setMarkers(post, rec.verdict);
    draw(post, rec);
  }

  function sameRules(a, b) {
    return a.rules.map((r) => r.id).join(' ') === b.rules.map((r) => r.id).join(' ');
  }

  // ---- drawing ----

  function clearDrawing(rec) {
    if (!rec.view) return;
    rec.removing = true;
    try {
      rec.view.destroy();
    } finally {
      rec.removing = false;
      rec.view = null;
    }
  }

  function draw(post, rec) {
    clearDrawing(rec);
    if (rec.dismissed) return;
    const anchor = rec.contents[0];
    const view = flagpostWarning.create(
      { text: rec.text, verdict: rec.verdict, extracted: rec.extracted, contents: rec.contents, mark: rec.mark, site: adapter.name },
      mode,
      {
        tag: HOST_TAG,
        revealed: rec.revealed,
        i18n,
        handlers: {
          onDismiss: () => dismiss(post, rec),
          onReveal: () => {
            rec.revealed = true;
          },
          onMark: (label) => markPost(post, rec, rec.mark === label ? null : label),
          onHelp: () => send({ type: P.fromContent.help }),
          onPauseSite: () => send({ type: P.fromContent.pauseSite }),
        },
      },
    );
    hosts.set(view.host, post);
    flagpostDom.insertBefore(post, anchor, view.host);
    rec.view = view;
    view.attached();
  }

  // ---- marks, dismissals and notices ----

  // Records a moderator's judgement over the port; the background stores it with the tab's
  // address. The warning shows it at once and takes it back if it could not be stored.
  function markPost(post, rec, label, { missed = false, onDone = null } = {}) {
    const previous = rec.mark;
    rec.mark = label;
    rec.view?.setMark(label);
    const ref = ++markSeq;
    const rules = rec.verdict?.rules ?? [];
    pendingMarks.set(ref, (ok) => {
      if (!ok) {
        rec.mark = previous;
        rec.view?.setMark(previous);
      }
      onDone?.(ok);
    });
    const msg = {
      type: P.fromContent.mark, ref, text: rec.text, label,
      rules: [...new Set(rules.map((r) => r.id))], packs: [...new Set(rules.map((r) => `${r.pack}@${r.packVersion}`))],
    };
    if (rec.context) msg.context = rec.context;
    if (missed) msg.missed = true;
    if (!send(msg)) pendingMarks.get(ref)?.(false);
  }

  function showNotice(post, rec, options) {
    rec.notice?.destroy();
    const anchor = rec.contents?.[0] ?? post;
    const view = flagpostWarning.notice(anchor, { tag: NOTICE_TAG, ...options });
    hosts.set(view.host, post);
    flagpostDom.insertBefore(post, anchor, view.host);
    rec.notice = view;
    view.attached();
    return view;
  }

  // Dismissing keeps the post dismissed on this site (the background remembers it), and
  // leaves a short "undo" in its place that takes the focus; undo puts the warning back with
  // the focus on its Dismiss button. When the undo goes by itself while focused, the focus
  // moves on to the next flagged post's warning.
  function dismiss(post, rec) {
    rec.dismissed = true;
    const hadFocus = rec.view?.hasFocus() ?? false;
    clearDrawing(rec);
    send({ type: P.fromContent.dismiss, text: rec.text, undo: false });
    const view = showNotice(post, rec, {
      message: i18n.t('w_dismissed'),
      action: i18n.t('w_undo'),
      onAction: () => {
        rec.notice = null;
        rec.dismissed = false;
        send({ type: P.fromContent.dismiss, text: rec.text, undo: true });
        if (rec.verdict && post.isConnected) {
          draw(post, rec);
          rec.view?.focusDismiss();
        }
      },
      onExpire: (focused) => {
        rec.notice = null;
        if (!focused) return;
        const list = flaggedInOrder().filter((p) => !records.get(p)?.dismissed);
        const next = list.find((p) => post.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING) ?? list[0];
        if (next) records.get(next)?.view?.focusTarget()?.focus({ preventScroll: false });
      },
    });
    // The focus was on the Dismiss button (or the post): it goes to Undo, in the same place.
    view.focus();
    return hadFocus;
  }

  // "Flag this post" (context menu or keyboard): the post under the menu, or the one holding
  // the focus or the selection, or the one in the middle of the window.
  function postForCommand(via) {
    const candidates = [];
    if (via === 'menu' && lastContextTarget?.isConnected) candidates.push(lastContextTarget);
    let active = document.activeElement;
    while (active?.shadowRoot && !isOurs(active) && active.shadowRoot.activeElement) active = active.shadowRoot.activeElement;
    if (active && active !== document.body) candidates.push(active);
    const selection = document.getSelection?.();
    if (selection?.anchorNode) candidates.push(selection.anchorNode);
    const middle = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
    if (middle) candidates.push(middle);
    for (const node of candidates) {
      if (node.nodeType === Node.ELEMENT_NODE && isOurs(node)) return hosts.get(node);
      const post = safely(() => adapter.postOf(node));
      if (post) return post;
    }
    return null;
  }

  function flagPost(via) {
    if (!enabled) return { ok: false, reason: 'off' };
    const post = postForCommand(via);
    if (!post) return { ok: false, reason: 'no post' };
    let rec = records.get(post);
    if (!rec?.text) {
      safely(() => prepare(post));
      rec = records.get(post);
    }
    if (!rec?.text) return { ok: false, reason: 'no text' };
    const flagged = !!rec.verdict && flaggedPosts.has(post);
    markPost(post, rec, true, {
      missed: !flagged,
      onDone: (ok) => {
        if (!ok) return;
        const view = showNotice(post, rec, {
          message: i18n.t(flagged ? 'w_markedRight' : 'w_markedMissed'),
          action: i18n.t('w_undo'),
          onAction: () => {
            rec.notice = null;
            markPost(post, rec, null);
          },
          onExpire: () => {
            rec.notice = null;
          },
        });
        view.focus();
      },
    });
    return { ok: true, flagged };
  }

  function redrawAll() {
    for (const post of flaggedPosts) {
      const rec = records.get(post);
      if (rec?.verdict && post.isConnected) safely(() => draw(post, rec));
    }
  }

  // ---- start / stop ----

  function start() {
    enabled = true;
    if (!observing) {
      observer.observe(document.documentElement, OBSERVE);
      observing = true;
    }
    pendingRoots.add(document.body ?? document.documentElement);
    schedule();
  }

  function stop() {
    enabled = false;
    observer.disconnect();
    observing = false;
    pendingRoots.clear();
    pendingPosts.clear();
    changedNodes.clear();
    for (const post of new Set([...flaggedPosts, ...markedPosts])) {
      const rec = records.get(post);
      if (rec) {
        safely(() => clearDrawing(rec));
        safely(() => rec.notice?.destroy());
        records.delete(post);
      }
      safely(() => clearMarkers(post));
    }
    markedPosts.clear();
    flaggedPosts.clear();
    scheduleCount();
  }

  function shutdown() {
    enabled = false;
    observer.disconnect();
  }

  // ---- popup and keyboard command ----

  function flaggedInOrder() {
    const list = [...flaggedPosts].filter((p) => p.isConnected && records.get(p)?.verdict);
    list.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    return list;
  }

  function scheduleCount() {
    clearTimeout(countTimer);
    countTimer = setTimeout(() => {
      for (const p of flaggedPosts) if (!p.isConnected) flaggedPosts.delete(p);
      send({ type: P.fromContent.count, flagged: flaggedPosts.size });
    }, 100);
  }

  function focusPost(post) {
    const rec = records.get(post);
    post.scrollIntoView({ block: 'center', behavior: 'instant' });
    const target = rec?.view?.focusTarget() ?? post;
    if (target === post && !post.hasAttribute('tabindex')) post.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: true });
  }

  function describe(post, index) {
    const rec = records.get(post);
    const v = rec.verdict;
    return {
      index,
      text: rec.text,
      context: rec.context || undefined,
      score: v.score,
      truncated: !!v.truncated,
      flaggedAt: new Date(rec.flaggedAt).toISOString(),
      categories: [...new Set(v.rules.map((r) => r.category))],
      rules: v.rules.map((r) => ({
        id: r.id, pack: r.pack, packVersion: r.packVersion, category: r.category, severity: r.severity,
        weight: r.weight, description: r.description, spans: r.spans,
        matched: r.spans.map(([s, e]) => rec.text.slice(s, e)),
      })),
      dismissed: rec.dismissed,
      mark: rec.mark,
    };
  }

  // Every post on the page with a rule hit, for the threshold preview: its hits' packs and
  // weights (count-only packs left out, as they never flag), and how many posts were read.
  function scores() {
    let scanned = 0;
    const posts = [];
    for (const el of safely(() => adapter.posts(document)) ?? []) {
      const rec = records.get(el);
      if (!rec?.text) continue;
      scanned += 1;
      if (rec.hits) posts.push(rec.hits.map((r) => ({ pack: r.pack, weight: r.weight, category: r.category })));
    }
    return { scanned, posts };
  }

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    // Only the extension's own pages and background may ask.
    if (sender?.id !== api.runtime.id || sender.tab || !msg || typeof msg !== 'object') return false;
    const list = flaggedInOrder();
    switch (msg.type) {
      case P.toTab.list:
        sendResponse({
          url: location.href, title: document.title, enabled, adapter: adapter.name,
          posts: list.map(describe),
        });
        return false;
      case P.toTab.scrollTo:
        if (Number.isInteger(msg.index) && list[msg.index]) {
          cursor = msg.index;
          focusPost(list[msg.index]);
          sendResponse({ ok: true });
        } else sendResponse({ ok: false });
        return false;
      case P.toTab.flagPost:
        sendResponse(flagPost(msg.via === 'menu' ? 'menu' : 'key'));
        return false;
      case P.toTab.scores:
        sendResponse({ url: location.href, enabled, ...scores() });
        return false;
      case P.toTab.next:
        if (list.length) {
          cursor = (cursor + 1) % list.length;
          focusPost(list[cursor]);
        }
        sendResponse({ ok: list.length > 0, index: cursor });
        return false;
      default:
        return false;
    }
  });

  // Remembers what the context menu was opened on, for "Flag this post".
  // Only the reader's own right-click counts: a page's synthetic event cannot point it elsewhere.
  document.addEventListener('contextmenu', (event) => {
    if (event.isTrusted) lastContextTarget = event.composedPath?.()[0] ?? event.target;
  }, true);

  connect();
})();
