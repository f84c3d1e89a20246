// Finds posts, sends their text to the background in batches, and marks and warns on the
// flagged ones. One MutationObserver; work is batched per frame within a time budget.

(() => {
  if (globalThis.__flagpostContentLoaded) return;
  globalThis.__flagpostContentLoaded = true;

  const api = globalThis.browser ?? globalThis.chrome;
  const FRAME_BUDGET_MS = 6;
  const MAX_BATCH_POSTS = 100;
  const HIGHLIGHT_NAME = 'flagpost-match';

  let enabled = false;
  let mode = 'banner';
  let generation = 0; // bumped when packs change: every post is scanned again
  let adapter = flagpostAdapters.choose(document);
  let lastDetect = 0;
  let lastUrl = location.href;

  const records = new WeakMap(); // post element → what we know about it
  const flaggedPosts = new Set();
  const pendingRoots = new Set(); // added subtrees to search for posts
  const changedNodes = new Set(); // nodes whose enclosing post's text may have changed
  const pendingPosts = new Set();
  const outbox = [];
  const inflight = new Map();
  let batchSeq = 0;
  let scheduled = false;
  let observing = false;
  let port = null;
  let cursor = -1;
  let countTimer = 0;

  let highlight = null;
  try {
    if (typeof Highlight === 'function' && globalThis.CSS?.highlights) {
      highlight = new Highlight();
      CSS.highlights.set(HIGHLIGHT_NAME, highlight);
    }
  } catch {
    highlight = null; // No Custom Highlight API: the warning still lists the matched words.
  }

  // ---- background connection ----

  function connect() {
    try {
      port = api.runtime.connect({ name: 'flagpost' });
    } catch {
      shutdown(); // The extension was updated or removed under this page.
      return null;
    }
    port.onMessage.addListener(onPortMessage);
    port.onDisconnect.addListener(() => {
      port = null;
      // A stopped worker loses the batches it had; scan those posts again on reconnect.
      for (const entries of inflight.values()) {
        for (const e of entries) {
          const rec = records.get(e.post);
          if (rec && rec.seq === e.seq) {
            rec.text = null;
            pendingPosts.add(e.post);
          }
        }
      }
      inflight.clear();
      if (pendingPosts.size && enabled) setTimeout(schedule, 50);
    });
    port.postMessage({ type: 'hello' });
    return port;
  }

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
    if (msg.type === 'config') {
      const modeChanged = msg.mode !== mode;
      mode = ['banner', 'blur', 'highlight'].includes(msg.mode) ? msg.mode : 'banner';
      if (msg.enabled && !enabled) start();
      else if (!msg.enabled && enabled) stop();
      else if (enabled && modeChanged) redrawAll();
    } else if (msg.type === 'verdicts' && Number.isInteger(msg.id) && Array.isArray(msg.results)) {
      onVerdicts(msg);
    } else if (msg.type === 'rescan') {
      generation += 1;
      if (enabled) {
        pendingRoots.add(document.body);
        schedule();
      }
    }
  }

  // ---- scheduling ----

  function schedule() {
    if (scheduled || !enabled) return;
    scheduled = true;
    if (document.hidden) setTimeout(flush, 16);
    else requestAnimationFrame(flush);
  }

  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') {
        changedNodes.add(m.target);
        continue;
      }
      if (isOurs(m.target)) continue;
      for (const node of m.addedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE) {
          if (node.localName !== 'flagpost-warning') pendingRoots.add(node);
        } else if (node.nodeType === Node.TEXT_NODE) {
          changedNodes.add(m.target);
        }
      }
      for (const node of m.removedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE && node.localName === 'flagpost-warning') continue;
        changedNodes.add(m.target);
        break;
      }
    }
    schedule();
  });

  function isOurs(node) {
    return node.nodeType === Node.ELEMENT_NODE && node.localName === 'flagpost-warning';
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
      const post = adapter.postOf(node);
      if (post) pendingPosts.add(post);
    }
    for (const root of pendingRoots) {
      pendingRoots.delete(root);
      if (!root.isConnected) continue;
      for (const post of adapter.posts(root)) pendingPosts.add(post);
      const up = root.parentElement && adapter.postOf(root.parentElement);
      if (up) pendingPosts.add(up);
      if (performance.now() > deadline) break;
    }
    for (const post of pendingPosts) {
      pendingPosts.delete(post);
      if (post.isConnected) prepare(post);
      if (outbox.length >= MAX_BATCH_POSTS) sendBatch();
      if (performance.now() > deadline) break;
    }
    sendBatch();
    if (pendingRoots.size || pendingPosts.size || changedNodes.size) schedule();
  }

  // Reads a post's text and queues it when it is new or changed.
  function prepare(post) {
    const contents = adapter.contentOf(post);
    if (!contents.length) return;
    const extracted = flagpostText.extract(contents, (el) => el !== post && adapter.exclude(el));
    const text = extracted.text;
    let rec = records.get(post);
    if (rec && rec.text === text && rec.generation === generation) return;
    if (!text.trim()) return;
    if (!rec) {
      rec = { seq: 0, text: null, generation, extracted: null, contents: null, verdict: null,
        warning: null, ranges: [], dismissed: false, revealed: false, flaggedAt: 0 };
      records.set(post, rec);
    }
    rec.seq += 1;
    rec.text = text;
    rec.generation = generation;
    rec.extracted = extracted;
    rec.contents = contents;
    outbox.push({ post, seq: rec.seq, text });
  }

  function sendBatch() {
    if (!outbox.length) return;
    const entries = outbox.splice(0, outbox.length);
    const id = ++batchSeq;
    inflight.set(id, entries);
    if (!send({ type: 'scan', id, texts: entries.map((e) => e.text) })) {
      inflight.delete(id);
      for (const e of entries) {
        const rec = records.get(e.post);
        if (rec) rec.text = null;
      }
    }
  }

  // ---- verdicts ----

  function onVerdicts(msg) {
    const entries = inflight.get(msg.id);
    if (!entries) return;
    inflight.delete(msg.id);
    const byIndex = new Map();
    for (const r of msg.results) if (r && Number.isInteger(r.i)) byIndex.set(r.i, r);
    entries.forEach((entry, i) => {
      const rec = records.get(entry.post);
      if (!rec || rec.seq !== entry.seq || !enabled) return; // a newer scan of this post is coming
      const result = byIndex.get(i);
      if (result?.flagged && Array.isArray(result.rules) && result.rules.length) markFlagged(entry.post, rec, result);
      else markClean(entry.post, rec);
    });
    scheduleCount();
  }

  function markClean(post, rec) {
    clearDrawing(rec);
    rec.verdict = null;
    flaggedPosts.delete(post);
    post.dataset.flagpost = 'clean';
    delete post.dataset.flagpostRules;
    delete post.dataset.flagpostScore;
  }

  function markFlagged(post, rec, result) {
    const same = rec.verdict && sameRules(rec.verdict, result);
    rec.verdict = { score: result.score, rules: result.rules, truncated: result.truncated };
    rec.flaggedAt ||= Date.now();
    if (!same) rec.dismissed = false;
    flaggedPosts.add(post);
    post.dataset.flagpost = 'flagged';
    post.dataset.flagpostRules = [...new Set(result.rules.map((r) => r.id))].join(' ');
    post.dataset.flagpostScore = String(Math.round(result.score * 1000) / 1000);
    draw(post, rec);
  }

  function sameRules(a, b) {
    return a.rules.map((r) => r.id).join(' ') === b.rules.map((r) => r.id).join(' ');
  }

  // ---- drawing ----

  function clearDrawing(rec) {
    rec.warning?.remove();
    rec.warning = null;
    if (highlight) for (const r of rec.ranges) highlight.delete(r);
    rec.ranges = [];
    for (const c of rec.contents ?? []) {
      c.removeAttribute('data-flagpost-blur');
      c.removeAttribute('data-flagpost-outline');
    }
  }

  function draw(post, rec) {
    clearDrawing(rec);
    if (rec.dismissed) return;
    const anchor = rec.contents[0];
    if (highlight) {
      const spans = rec.verdict.rules.flatMap((r) => r.spans);
      rec.ranges = flagpostText.ranges(rec.extracted, spans);
      for (const r of rec.ranges) highlight.add(r);
    }
    if (mode === 'highlight') {
      for (const c of rec.contents) c.setAttribute('data-flagpost-outline', '');
      return;
    }
    const warning = flagpostWarning.create({ text: rec.text, verdict: rec.verdict }, mode, anchor, {
      onDismiss: () => {
        rec.dismissed = true;
        clearDrawing(rec);
        (rec.contents[0] ?? post).focus?.({ preventScroll: true });
      },
      onReveal: () => reveal(rec),
    });
    if (anchor.slot) warning.slot = anchor.slot;
    if (anchor === post) post.prepend(warning);
    else anchor.before(warning);
    rec.warning = warning;
    if (mode === 'blur' && !rec.revealed) {
      for (const c of rec.contents) {
        c.setAttribute('data-flagpost-blur', '');
        c.addEventListener('click', onBlurredClick, { capture: true });
      }
    }
  }

  function reveal(rec) {
    rec.revealed = true;
    for (const c of rec.contents ?? []) {
      c.removeAttribute('data-flagpost-blur');
      c.removeEventListener('click', onBlurredClick, { capture: true });
    }
    rec.warning?.shadowRoot?.querySelector('.reveal')?.remove();
  }

  // "Blur until clicked": the first click on blurred text reveals it and goes no further.
  function onBlurredClick(event) {
    const content = event.currentTarget;
    if (!content.hasAttribute('data-flagpost-blur')) return;
    event.preventDefault();
    event.stopPropagation();
    const post = adapter.postOf(content) ?? content;
    const rec = records.get(post);
    if (rec) reveal(rec);
    else content.removeAttribute('data-flagpost-blur');
  }

  function redrawAll() {
    for (const post of flaggedPosts) {
      const rec = records.get(post);
      if (rec?.verdict && post.isConnected) draw(post, rec);
    }
  }

  // ---- start / stop ----

  function start() {
    enabled = true;
    if (!observing) {
      observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });
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
    for (const el of document.querySelectorAll('[data-flagpost]')) {
      const rec = records.get(el);
      if (rec) {
        clearDrawing(rec);
        records.delete(el);
      }
      el.removeAttribute('data-flagpost');
      el.removeAttribute('data-flagpost-rules');
      el.removeAttribute('data-flagpost-score');
    }
    flaggedPosts.clear();
    highlight?.clear();
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
      send({ type: 'count', flagged: flaggedPosts.size });
    }, 100);
  }

  function focusPost(post) {
    const rec = records.get(post);
    post.scrollIntoView({ block: 'center', behavior: 'instant' });
    const target = rec?.warning?.shadowRoot?.querySelector('button') ?? post;
    if (target === post && !post.hasAttribute('tabindex')) post.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: true });
  }

  function describe(post, index) {
    const rec = records.get(post);
    const v = rec.verdict;
    return {
      index,
      text: rec.text,
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
    };
  }

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    // Only the extension's own pages and background may ask.
    if (sender?.id !== api.runtime.id || sender.tab || !msg || typeof msg !== 'object') return false;
    const list = flaggedInOrder();
    switch (msg.type) {
      case 'list':
        sendResponse({
          url: location.href, title: document.title, enabled, adapter: adapter.name,
          posts: list.map(describe),
        });
        return false;
      case 'scrollTo':
        if (Number.isInteger(msg.index) && list[msg.index]) {
          cursor = msg.index;
          focusPost(list[msg.index]);
          sendResponse({ ok: true });
        } else sendResponse({ ok: false });
        return false;
      case 'next':
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

  connect();
})();
