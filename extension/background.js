// Hosts the Wasm engine (service worker in Chrome, background script in Firefox) and answers
// content scripts over ports, one batch of posts per message.
//
// Listeners are registered synchronously at start-up so a worker the browser stopped comes
// back on the next event; the engine is built lazily on the first batch that needs it.
//
// Content scripts run inside web pages and are not trusted with storage: storage.local is
// kept to the extension's own contexts (see lib/browser.js), and content scripts get what they
// need (site switch, display mode, verdicts) over the named port, whose sender is checked once
// when it connects and whose every message is validated.
//
// Each tab has its own queue of batches, and batches are scanned in slices of about
// SLICE_CHARS characters taken from each tab in turn, so one tab sending huge batches cannot
// hold up the verdicts of another.

import { loadState, save, siteEnabled } from './lib/storage.js';
import { loadWasm, compileAll, shippedPacks, joinPosts, expandBatch, engineTakesContext, describeFailures } from './lib/engine.js';
import { api, restrictStorageToExtension } from './lib/browser.js';

const PORT_NAME = 'flagpost';
const MAX_BATCH_POSTS = 500;
const MAX_POST_CHARS = 70000;
const MAX_CONTEXT_CHARS = 300;
const SLICE_CHARS = 200000; // a few milliseconds of scanning
const MAX_QUEUED_CHARS = 8000000; // per tab; past it a batch is answered "busy" and sent again later

const storageAccess = restrictStorageToExtension();

let statePromise = null;
let current = null; // Promise<{ engine, info, errors, failed, generation }>
let generation = 0;
const startedAt = performance.now();
let timings = null; // how long the last start-up took, for the options page and benchmarks
const ports = new Set();
const pendingShadow = new Map();
let shadowFlushTimer = 0;
let storageError = null; // the last failed write, shown on the options page
const queues = new Map(); // tab id → { port, jobs: [{ msg, next, results, chars }], chars }
let pumping = false;

function state() {
  statePromise ??= loadState();
  return statePromise;
}

// Compiles the enabled packs, each pack that works kept even when another does not (their
// problems are reported as `failed`). When nothing compiles the previous engine keeps running;
// with no previous engine it falls back to the shipped packs alone, so users are never left
// unprotected.
function rebuild() {
  const previous = current;
  current = (async () => {
    const t0 = performance.now();
    const [st] = await Promise.all([state(), loadWasm()]);
    const t1 = performance.now();
    let built = compileAll(st);
    timings ??= { workerStartToBuildMs: t0 - startedAt, wasmAndStorageMs: t1 - t0, compileMs: performance.now() - t1 };
    const failed = built.failed ?? [];
    const errors = failed.length ? describeFailures(failed).map((display) => ({ display })) : null;
    if (built.errors) {
      const old = previous && (await previous.catch(() => null));
      if (old?.engine) return { ...old, errors: errors ?? built.errors, failed };
      built = compileAll(st, shippedPacks().map((p) => ({ ...p, shipped: true })));
      if (built.errors) return { engine: null, info: [], errors: errors ?? built.errors, failed, generation };
    }
    generation += 1;
    return { engine: built.engine, info: built.info, errors, failed, generation };
  })();
  return current;
}

function engine() {
  return current ?? rebuild();
}

function isValidScan(msg) {
  if (!Number.isInteger(msg.id) || !Array.isArray(msg.texts) || msg.texts.length > MAX_BATCH_POSTS) return false;
  if (!msg.texts.every((t) => typeof t === 'string' && t.length <= MAX_POST_CHARS)) return false;
  if (msg.contexts === undefined) return true;
  return Array.isArray(msg.contexts) && msg.contexts.length === msg.texts.length &&
    msg.contexts.every((c) => typeof c === 'string' && c.length <= MAX_CONTEXT_CHARS);
}

function reply(port, msg) {
  try {
    port.postMessage(msg);
  } catch {
    // The tab went away while we scanned.
  }
}

function enqueue(tabId, port, msg) {
  const chars = msg.texts.reduce((n, t) => n + t.length + 1, 0);
  let q = queues.get(tabId);
  if (q && q.port !== port) {
    queues.delete(tabId); // the page was reloaded: what the old one asked for is moot
    q = null;
  }
  if (!q) {
    q = { port, jobs: [], chars: 0 };
    queues.set(tabId, q);
  }
  if (q.jobs.length && q.chars + chars > MAX_QUEUED_CHARS) {
    reply(port, { type: 'verdicts', id: msg.id, results: [], generation: 0, error: 'busy' });
    return;
  }
  q.jobs.push({ msg, next: 0, results: [], chars });
  q.chars += chars;
  pump();
}

// Scans the queued batches one slice at a time, visiting the tabs in turn, and yields to the
// event loop between slices so new batches (from any tab) join the rotation at once.
async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    while (queues.size) {
      const built = await engine();
      for (const [tabId, q] of [...queues]) {
        if (queues.get(tabId) !== q) continue;
        const job = q.jobs[0];
        if (!job) {
          queues.delete(tabId);
          continue;
        }
        if (!built.engine) {
          q.jobs.shift();
          q.chars -= job.chars;
          reply(q.port, { type: 'verdicts', id: job.msg.id, results: [], generation: 0, error: 'no engine' });
        } else if (scanSlice(built, job)) {
          q.jobs.shift();
          q.chars -= job.chars;
          reply(q.port, { type: 'verdicts', id: job.msg.id, results: job.results, generation: built.generation });
        }
        if (!q.jobs.length && queues.get(tabId) === q) queues.delete(tabId);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
  } finally {
    pumping = false;
  }
}

// Scans the next slice of a batch; returns true when the batch is done.
function scanSlice(built, job) {
  const { texts, contexts } = job.msg;
  const start = job.next;
  let end = start;
  let chars = 0;
  while (end < texts.length && (end === start || chars + texts[end].length <= SLICE_CHARS)) {
    chars += texts[end].length;
    end += 1;
  }
  const withContext = contexts && engineTakesContext() ? contexts.slice(start, end) : null;
  const compact = built.engine.scan_batch(joinPosts(texts.slice(start, end), withContext));
  for (const r of expandBatch(compact, built.info)) {
    r.i += start;
    for (const hit of r.shadow) {
      const key = `${hit.pack}/${hit.id}`;
      pendingShadow.set(key, (pendingShadow.get(key) ?? 0) + 1);
    }
    delete r.shadow;
    job.results.push(r);
  }
  if (pendingShadow.size && !shadowFlushTimer) shadowFlushTimer = setTimeout(flushShadowCounts, 2000);
  job.next = end;
  return end >= texts.length;
}

async function flushShadowCounts() {
  shadowFlushTimer = 0;
  try {
    const counts = (await api.storage.local.get('shadowCounts')).shadowCounts ?? {};
    for (const [k, n] of pendingShadow) counts[k] = (Number(counts[k]) || 0) + n;
    pendingShadow.clear();
    await save({ shadowCounts: counts });
  } catch (e) {
    storageError = String(e?.message ?? e);
  }
}

// What a content script may know: whether Flagpost runs on its site, and how to show warnings.
async function configFor(url) {
  const st = await state();
  return { type: 'config', enabled: siteEnabled(st.settings, url), mode: st.settings.mode };
}

// The site a tab shows is its top-level page's.
function siteUrlOf(sender) {
  return sender.tab?.url ?? sender.url ?? '';
}

function setBadge(tabId, count) {
  if (tabId == null) return;
  const text = count > 0 ? String(count > 999 ? '999+' : count) : '';
  api.action.setBadgeText({ tabId, text }).catch(() => {});
  api.action.setBadgeBackgroundColor?.({ tabId, color: '#b3261e' })?.catch?.(() => {});
}

api.runtime.onConnect.addListener((port) => {
  const sender = port.sender;
  if (port.name !== PORT_NAME || sender?.id !== api.runtime.id || !sender.tab) {
    port.disconnect();
    return;
  }
  const tabId = sender.tab.id;
  ports.add(port);
  port.onDisconnect.addListener(() => {
    ports.delete(port);
    if (queues.get(tabId)?.port === port) queues.delete(tabId);
  });
  port.onMessage.addListener((msg) => {
    if (msg === null || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'hello':
        configFor(siteUrlOf(port.sender)).then((c) => port.postMessage(c)).catch(() => {});
        break;
      case 'scan':
        if (isValidScan(msg)) enqueue(tabId, port, msg);
        break;
      case 'count':
        if (Number.isInteger(msg.flagged) && msg.flagged >= 0) setBadge(tabId, msg.flagged);
        break;
      default:
        break;
    }
  });
});

// Requests from the extension's own pages (popup, options).
api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  const ownPage = sender?.id === api.runtime.id && !sender.tab?.id ||
    (sender?.url ?? '').startsWith(api.runtime.getURL(''));
  if (!ownPage || msg === null || typeof msg !== 'object') return false;
  if (msg.type === 'status') {
    Promise.all([engine(), storageAccess])
      .then(([b, access]) => sendResponse({
        info: b.info, errors: b.errors, failed: b.failed ?? [], generation: b.generation, timings,
        storageAccess: access.level, storageError,
      }))
      .catch((e) => sendResponse({ info: [], errors: [{ display: String(e) }], failed: [] }));
    return true;
  }
  return false;
});

api.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local') return;
  const packsChanged = 'userPacks' in changes || 'packState' in changes;
  const settingsChanged = 'settings' in changes;
  if (!packsChanged && !settingsChanged) return;
  statePromise = null;
  const before = changes.settings?.oldValue?.threshold;
  const after = changes.settings?.newValue?.threshold;
  const rescan = packsChanged || before !== after;
  const ready = rescan ? rebuild() : Promise.resolve();
  ready.then(async () => {
    for (const port of ports) {
      try {
        port.postMessage(await configFor(siteUrlOf(port.sender)));
        if (rescan) port.postMessage({ type: 'rescan' });
      } catch {
        ports.delete(port);
      }
    }
  });
});

api.commands?.onCommand.addListener(async (command) => {
  if (command !== 'next-flagged') return;
  const [tab] = await api.tabs.query({ active: true, lastFocusedWindow: true });
  if (tab?.id != null) api.tabs.sendMessage(tab.id, { type: 'next' }).catch(() => {});
});

api.runtime.onInstalled?.addListener(() => {
  // Migrates stored data once per install or update; settings and packs are kept.
  state();
});
