// Hosts the Wasm engine (service worker in Chrome, background script in Firefox) and answers
// content scripts over ports, one batch of posts per message.
//
// Listeners are registered synchronously at start-up so a worker the browser stopped comes
// back on the next event; the engine is built lazily on the first batch that needs it.

import { loadState, save, siteEnabled } from './lib/storage.js';
import { loadWasm, compileAll, shippedPacks, joinPosts, expandBatch } from './lib/engine.js';

const api = globalThis.browser ?? globalThis.chrome;

const PORT_NAME = 'flagpost';
const MAX_BATCH_POSTS = 500;
const MAX_POST_CHARS = 70000;

let statePromise = null;
let current = null; // Promise<{ engine, info, errors, generation }>
let generation = 0;
const startedAt = performance.now();
let timings = null; // how long the last start-up took, for the options page and benchmarks
const ports = new Set();
const pendingShadow = new Map();
let shadowFlushTimer = 0;

function state() {
  statePromise ??= loadState();
  return statePromise;
}

// Compiles the enabled packs. A broken set keeps the previous engine running; with no previous
// engine it falls back to the shipped packs alone, so users are never left unprotected.
function rebuild() {
  const previous = current;
  current = (async () => {
    const t0 = performance.now();
    const [st] = await Promise.all([state(), loadWasm()]);
    const t1 = performance.now();
    let built = compileAll(st);
    timings ??= { workerStartToBuildMs: t0 - startedAt, wasmAndStorageMs: t1 - t0, compileMs: performance.now() - t1 };
    const errors = built.errors ?? null;
    if (errors) {
      const old = previous && (await previous.catch(() => null));
      if (old?.engine) return { ...old, errors };
      built = compileAll(st, shippedPacks());
      if (built.errors) return { engine: null, info: [], errors, generation };
    }
    generation += 1;
    return { engine: built.engine, info: built.info, errors, generation };
  })();
  return current;
}

function engine() {
  return current ?? rebuild();
}

function isValidScan(msg) {
  return Number.isInteger(msg.id) && Array.isArray(msg.texts) && msg.texts.length <= MAX_BATCH_POSTS &&
    msg.texts.every((t) => typeof t === 'string' && t.length <= MAX_POST_CHARS);
}

async function handleScan(port, msg) {
  const built = await engine();
  if (!built.engine) {
    port.postMessage({ type: 'verdicts', id: msg.id, results: [], generation: 0, error: 'no engine' });
    return;
  }
  const compact = built.engine.scan_batch(joinPosts(msg.texts));
  const results = expandBatch(compact, built.info);
  for (const r of results) {
    for (const hit of r.shadow) {
      const key = `${hit.pack}/${hit.id}`;
      pendingShadow.set(key, (pendingShadow.get(key) ?? 0) + 1);
    }
    delete r.shadow;
  }
  if (pendingShadow.size && !shadowFlushTimer) shadowFlushTimer = setTimeout(flushShadowCounts, 2000);
  try {
    port.postMessage({ type: 'verdicts', id: msg.id, results, generation: built.generation });
  } catch {
    // The tab went away while we scanned.
  }
}

async function flushShadowCounts() {
  shadowFlushTimer = 0;
  const counts = (await api.storage.local.get('shadowCounts')).shadowCounts ?? {};
  for (const [k, n] of pendingShadow) counts[k] = (Number(counts[k]) || 0) + n;
  pendingShadow.clear();
  await save({ shadowCounts: counts });
}

async function configFor(url) {
  const st = await state();
  return { type: 'config', enabled: siteEnabled(st.settings, url), mode: st.settings.mode };
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
  const url = sender.url ?? sender.tab.url ?? '';
  ports.add(port);
  port.onDisconnect.addListener(() => ports.delete(port));
  port.onMessage.addListener((msg) => {
    if (msg === null || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'hello':
        configFor(url).then((c) => port.postMessage(c)).catch(() => {});
        break;
      case 'scan':
        if (isValidScan(msg)) handleScan(port, msg).catch((e) => console.error('flagpost scan', e));
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
    engine()
      .then((b) => sendResponse({ info: b.info, errors: b.errors, generation: b.generation, timings }))
      .catch((e) => sendResponse({ info: [], errors: [{ display: String(e) }] }));
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
      const url = port.sender.url ?? port.sender.tab?.url ?? '';
      try {
        port.postMessage(await configFor(url));
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
