// @ts-check
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

import { loadState, save, siteEnabled, siteKey, MAX_DISMISSED, MAX_TRIAL_HITS } from './lib/storage.js';
import { loadScanner, shippedCompiled, shippedImage, openScanner, scanBatch, sourceDigest, Scanner } from './lib/scanner.js';
import { loadWasm, compileAll, compileSources, allOptions, describeFailures, checkPack, summarize } from './lib/engine.js';
import { LIMITS } from './lib/limits.js';
import {
  api, restrictStorageToExtension, isOwnPage, setBadgeText, hasMenus, removeAllMenus, addMenuItem, setMenuTitle,
} from './lib/browser.js';
import { markKey } from './lib/export.js';
import { initI18n, loadCatalog, resolveLocale, contentStrings, t } from './lib/i18n.js';
import { updateFromUrl, PackRefused } from './lib/remote.js';
import { syncContentScripts } from './lib/sites.js';
import { PROTOCOL as P } from './lib/protocol.js';

const MAX_BATCH_POSTS = LIMITS.batchPosts;
const MAX_POST_CHARS = LIMITS.maxTextUtf16;
const MAX_CONTEXT_CHARS = 300;
const SLICE_CHARS = 200000; // a few milliseconds of scanning
const MAX_QUEUED_CHARS = 8000000; // per tab; past it a batch is answered "busy" and sent again later
const MAX_MARK_RULES = 200;
const MAX_TRIAL_TEXT = 2000;
const MAX_COUNTED = 50000; // posts × rules remembered so one post is counted once per rule
const UPDATE_ALARM = 'flagpost-pack-updates';
const COMPILED_KEY = 'compiledUserPacks'; // a cache: the sources in `userPacks` stay the only copy
const IMAGE_KEY = 'engineImage'; // a cache of the last engine built, used only while it matches

const storageAccess = restrictStorageToExtension();

let statePromise = null;
let current = null; // Promise<{ engine, info, errors, failed, generation }>
let generation = 0;
const startedAt = performance.now();
let timings = null; // how long the last start-up took, for the options page and benchmarks
const ports = new Set();
const pendingCounts = new Map(); // "pack/rule" → hits not yet written
const pendingTrials = []; // posts a count-only pack would have flagged, not yet written
const counted = new Set(); // "post hash|pack/rule" already counted
let countsFlushTimer = 0;
let storageError = null; // the last failed write, shown on the options page
const queues = new Map(); // tab id → { port, jobs: [{ msg, next, results, chars }], chars }
let pumping = false;

function state() {
  statePromise ??= loadState();
  return statePromise;
}

// Builds the engine from compiled packs: the shipped ones (compiled when the extension was
// built) and the user's (compiled when they changed, kept in storage as a cache beside their
// sources). Each pack that works is kept even when another does not (their problems are
// reported as `failed`). When nothing can be used the previous engine keeps running; with no
// previous engine it falls back to the shipped packs alone, so users are never left
// unprotected. The engine comes from an image instead of being built when one matches the
// packs and settings (the scanner checks): the image of the last engine built here, kept in
// storage, or on a fresh install the one built with the extension for its packs alone.
function rebuild() {
  const previous = current;
  current = (async () => {
    const t0 = performance.now();
    const [st, shipped, shippedImg, storedImg] = await Promise.all([state(), shippedCompiled(), shippedImage(), storedImage(), loadScanner()]);
    const image = storedImg ?? shippedImg;
    const t1 = performance.now();
    let user = await userCompiled(st);
    const t2 = performance.now();
    const settings = allOptions(st);
    let blobs = user.bytes ? [shipped, user.bytes] : [shipped];
    let built = openScanner(Scanner, blobs, settings, image);
    if (built.errors?.some((e) => e.kind === 'compiled') && user.bytes) {
      // The stored compiled form was refused (another format, damage): compile the sources again.
      user = await userCompiled(st, { refresh: true });
      blobs = [shipped, user.bytes];
      built = openScanner(Scanner, blobs, settings, image);
    }
    const failed = [...user.failed, ...(built.failed ?? []).map((f) => ({ ...f, name: f.origin, shipped: false }))];
    timings ??= {
      workerStartToBuildMs: t0 - startedAt, wasmAndStorageMs: t1 - t0, userPacksMs: t2 - t1, userPacksFrom: user.from,
      compileMs: performance.now() - t2, ...(built.engine ? built.engine.timings() : {}),
    };
    const errors = failed.length ? describeFailures(failed).map((display) => ({ display })) : null;
    if (built.errors) {
      const old = previous && (await previous.catch(() => null));
      if (old?.engine) return { ...old, errors: errors ?? built.errors, failed };
      blobs = [shipped];
      built = openScanner(Scanner, blobs, settings, image);
      if (built.errors) return { engine: null, info: [], errors: errors ?? built.errors, failed, generation };
    }
    generation += 1;
    if (!built.engine.timings().fromImage) storeImage(built.engine);
    return { engine: built.engine, info: built.info, errors, failed, generation };
  })();
  return current;
}

const toBase64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromBase64 = (text) => {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
};

async function storedImage() {
  const stored = (await api.storage.local.get(IMAGE_KEY).catch(() => ({})))[IMAGE_KEY];
  if (typeof stored !== 'string') return null;
  try {
    return fromBase64(stored);
  } catch {
    return null;
  }
}

// Keeps the image of an engine just built, so that the next start of the worker loads it.
function storeImage(engine) {
  const image = engine.image();
  if (image) api.storage.local.set({ [IMAGE_KEY]: toBase64(image) }).catch(() => {});
}

// The user's packs compiled: from storage when every source is as it was compiled, else
// compiled now with the authoring module (loaded only then) and stored.
async function userCompiled(st, { refresh = false } = {}) {
  if (!st.userPacks.length) return { bytes: null, failed: [], from: 'none' };
  const digests = st.userPacks.map((p) => sourceDigest(p.source));
  if (!refresh) {
    const cached = (await api.storage.local.get(COMPILED_KEY).catch(() => ({})))[COMPILED_KEY];
    if (cached?.format === LIMITS.compiledFormat && JSON.stringify(cached.digests) === JSON.stringify(digests)) {
      try {
        return { bytes: fromBase64(cached.data), failed: cached.failed ?? [], from: 'stored' };
      } catch {
        // Not base64: compile again below.
      }
    }
  }
  await loadWasm();
  const { bytes, failed } = compileSources(st.userPacks.map(({ name, source }) => ({ name, source, shipped: false })));
  const entry = { format: LIMITS.compiledFormat, digests, data: toBase64(bytes), failed };
  await api.storage.local.set({ [COMPILED_KEY]: entry }).catch(() => {});
  return { bytes, failed, from: 'source' };
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

/**
 * @param {chrome.runtime.Port} port
 * @param {import('./lib/protocol.js').BackgroundMessage} msg
 */
function reply(port, msg) {
  try {
    port.postMessage(msg);
  } catch {
    // The tab went away while we scanned.
  }
}

function enqueue(tabId, port, msg, st) {
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
    reply(port, { type: P.toContent.verdicts, id: msg.id, results: [], generation: 0, error: P.scanErrors.busy });
    return;
  }
  q.jobs.push({ msg, next: 0, results: [], chars, url: siteUrlOf(port.sender), st });
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
  const withContext = contexts ? contexts.slice(start, end) : null;
  for (const r of scanBatch(built.engine, built.info, texts.slice(start, end), withContext)) {
    r.i += start;
    const text = texts[r.i];
    noteHits(job, r, text, contexts?.[r.i] ?? '', built.info);
    delete r.shadow;
    if (r.flagged && job.st) {
      const mark = job.st.marks[markKey(job.url, text)];
      if (mark) r.mark = mark.label;
      if (job.st.dismissed[dismissKey(job.url, text)]) r.dismissed = true;
    }
    job.results.push(r);
  }
  if ((pendingCounts.size || pendingTrials.length) && !countsFlushTimer) countsFlushTimer = setTimeout(flushCounts, 1000);
  job.next = end;
  return end >= texts.length;
}

// Per-rule hit counts (every mode, each post counted once per rule) and the posts a
// count-only pack would have flagged.
function noteHits(job, r, text, context, info) {
  const hash = markKey('', text);
  for (const hit of [...r.rules, ...r.shadow]) {
    const key = `${hit.pack}/${hit.id}`;
    const seen = `${hash}|${key}`;
    if (counted.has(seen)) continue;
    if (counted.size >= MAX_COUNTED) counted.clear();
    counted.add(seen);
    pendingCounts.set(key, (pendingCounts.get(key) ?? 0) + 1);
  }
  if (!r.shadow.length) return;
  const byPack = new Map();
  for (const hit of r.shadow) {
    const list = byPack.get(hit.pack) ?? [];
    list.push(hit);
    byPack.set(hit.pack, list);
  }
  for (const [pack, hits] of byPack) {
    const threshold = info.find((p) => p.id === pack)?.threshold ?? Infinity;
    const score = hits.reduce((n, h) => n + h.weight, 0);
    if (!(score > 0 && score + 1e-9 >= threshold)) continue;
    const seen = `${hash}|trial:${pack}`;
    if (counted.has(seen)) continue;
    counted.add(seen);
    pendingTrials.push({
      pack, packVersion: hits[0].packVersion, text: text.slice(0, MAX_TRIAL_TEXT), context: context || undefined,
      url: job.url, rules: hits.map((h) => h.id), score: Math.round(score * 1000) / 1000, time: Date.now(),
    });
  }
}

async function flushCounts() {
  countsFlushTimer = 0;
  try {
    const stored = await api.storage.local.get(['hitCounts', 'shadowCounts', 'trialHits', 'countsSince']);
    const counts = stored.hitCounts ?? stored.shadowCounts ?? {};
    for (const [k, n] of pendingCounts) counts[k] = (Number(counts[k]) || 0) + n;
    pendingCounts.clear();
    const trials = Array.isArray(stored.trialHits) ? stored.trialHits : [];
    const known = new Set(trials.map((h) => `${h.pack}|${markKey(h.url ?? '', h.text ?? '')}`));
    for (const h of pendingTrials.splice(0)) {
      const k = `${h.pack}|${markKey(h.url, h.text)}`;
      if (!known.has(k)) {
        known.add(k);
        trials.push(h);
      }
    }
    const out = { hitCounts: counts, trialHits: trials.slice(-MAX_TRIAL_HITS) };
    if (!stored.countsSince) out.countsSince = Date.now();
    await save(out);
  } catch (e) {
    storageError = String(e?.message ?? e);
  }
}

function dismissKey(url, text) {
  return markKey(`site:${siteKey(url)}`, text);
}

// What a content script may know: whether Flagpost runs on its site, how to show warnings,
// and the words to show them with.
/** @returns {Promise<import('./lib/protocol.js').ConfigMessage>} */
async function configFor(url) {
  const st = await state();
  const locale = resolveLocale(st.settings.language);
  const [messages, fallback] = await Promise.all([loadCatalog(locale), loadCatalog('en')]);
  return {
    type: P.toContent.config, enabled: siteEnabled(st.settings, url), mode: st.settings.mode, locale,
    strings: contentStrings(messages, fallback),
  };
}

// The background's own words (context menu, notices) follow the same language setting.
async function localize() {
  const st = await state();
  await initI18n(st.settings.language);
  setMenuTitle(P.menuItems.flagPost, t('menuFlagPost'));
}

// The site a tab shows is its top-level page's.
function siteUrlOf(sender) {
  return sender.tab?.url ?? sender.url ?? '';
}

function setBadge(tabId, count) {
  if (tabId == null) return;
  const text = count > 0 ? String(count > 999 ? '999+' : count) : '';
  setBadgeText(tabId, text, '#b3261e');
}

api.runtime.onConnect.addListener((port) => {
  const sender = port.sender;
  if (port.name !== P.port || sender?.id !== api.runtime.id || !sender.tab) {
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
      case P.fromContent.hello:
        configFor(siteUrlOf(port.sender)).then((c) => port.postMessage(c)).catch(() => {});
        break;
      case P.fromContent.scan:
        if (isValidScan(msg)) state().then((st) => enqueue(tabId, port, msg, st)).catch(() => enqueue(tabId, port, msg, null));
        break;
      case P.fromContent.mark:
        if (isValidMark(msg)) setMark(port, msg);
        break;
      case P.fromContent.dismiss:
        if (isValidText(msg.text) && typeof msg.undo === 'boolean') setDismissed(port, msg);
        break;
      case P.fromContent.help:
        api.tabs.create({ url: api.runtime.getURL('extension/help/help.html') }).catch(() => {});
        break;
      case P.fromContent.pauseSite:
        pauseSite(siteUrlOf(port.sender));
        break;
      case P.fromContent.count:
        if (Number.isInteger(msg.flagged) && msg.flagged >= 0) setBadge(tabId, msg.flagged);
        break;
      default:
        break;
    }
  });
});

function isValidText(text) {
  return typeof text === 'string' && text.length > 0 && text.length <= MAX_POST_CHARS;
}

const isShortList = (v) => Array.isArray(v) && v.length <= MAX_MARK_RULES && v.every((x) => typeof x === 'string' && x.length <= 200);

function isValidMark(msg) {
  return isValidText(msg.text) && (msg.label === true || msg.label === false || msg.label === null) &&
    Number.isInteger(msg.ref) && isShortList(msg.rules ?? []) && isShortList(msg.packs ?? []) &&
    (msg.context === undefined || (typeof msg.context === 'string' && msg.context.length <= MAX_CONTEXT_CHARS)) &&
    (msg.missed === undefined || typeof msg.missed === 'boolean');
}

// Writes to the marks and dismissals are made one after another, each on what is stored.
let writes = Promise.resolve();
function serially(fn) {
  writes = writes.then(fn, fn);
  return writes;
}

// A moderator's judgement of a post, from the warning or from "Flag this post". The page's
// address is the tab's, never one the message names.
function setMark(port, msg) {
  const url = siteUrlOf(port.sender);
  const key = markKey(url, msg.text);
  serially(async () => {
    try {
      const marks = (await api.storage.local.get('marks')).marks ?? {};
      if (msg.label === null) delete marks[key];
      else {
        marks[key] = {
          text: msg.text, url, label: msg.label, time: Date.now(), rules: msg.rules ?? [], packs: msg.packs ?? [],
          ...(msg.context ? { context: msg.context } : {}), ...(msg.missed ? { missed: true } : {}),
        };
      }
      await save({ marks });
      const st = statePromise && (await statePromise.catch(() => null));
      if (st) st.marks = marks;
      reply(port, { type: P.toContent.marked, ref: msg.ref, label: msg.label, ok: true });
    } catch (e) {
      storageError = String(e?.message ?? e);
      reply(port, { type: P.toContent.marked, ref: msg.ref, label: null, ok: false });
    }
  });
}

function setDismissed(port, msg) {
  const key = dismissKey(siteUrlOf(port.sender), msg.text);
  serially(async () => {
    try {
      const dismissed = (await api.storage.local.get('dismissed')).dismissed ?? {};
      if (msg.undo) delete dismissed[key];
      else dismissed[key] = Date.now();
      const keys = Object.keys(dismissed);
      if (keys.length > MAX_DISMISSED) {
        keys.sort((a, b) => dismissed[a] - dismissed[b]);
        for (const k of keys.slice(0, keys.length - MAX_DISMISSED)) delete dismissed[k];
      }
      await save({ dismissed });
      const st = statePromise && (await statePromise.catch(() => null));
      if (st) st.dismissed = dismissed;
    } catch (e) {
      storageError = String(e?.message ?? e);
    }
  });
}

// "Turn off on this site" from a warning: the tab's site, never one the message names.
function pauseSite(url) {
  const site = siteKey(url);
  if (!site) return;
  serially(async () => {
    try {
      const fresh = await loadState();
      const sites = new Set(fresh.settings.disabledSites);
      sites.add(site);
      await save({ settings: { ...fresh.settings, disabledSites: [...sites] } });
    } catch (e) {
      storageError = String(e?.message ?? e);
    }
  });
}

// Requests from the extension's own pages (popup, options).
api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!isOwnPage(sender) || msg === null || typeof msg !== 'object') return false;
  if (msg.type === P.fromPage.status) {
    Promise.all([engine(), storageAccess])
      .then(([b, access]) => sendResponse({
        info: b.info, errors: b.errors, failed: b.failed ?? [], generation: b.generation, timings,
        storageAccess: access.level, storageError,
      }))
      .catch((e) => sendResponse({ info: [], errors: [{ display: String(e) }], failed: [] }));
    return true;
  }
  if (msg.type === P.fromPage.checkUpdates) {
    checkSubscriptions({ manual: true }).then((report) => sendResponse({ report }))
      .catch((e) => sendResponse({ report: [], error: String(e?.message ?? e) }));
    return true;
  }
  if (msg.type === P.fromPage.flushCounts) {
    clearTimeout(countsFlushTimer);
    flushCounts().then(() => sendResponse({ ok: true }));
    return true;
  }
  return false;
});

api.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local') return;
  if (('marks' in changes || 'dismissed' in changes) && statePromise) {
    statePromise.then((st) => {
      if ('marks' in changes) st.marks = changes.marks.newValue ?? {};
      if ('dismissed' in changes) st.dismissed = changes.dismissed.newValue ?? {};
    }).catch(() => {});
  }
  if ('hitCounts' in changes && !Object.keys(changes.hitCounts.newValue ?? {}).length) counted.clear(); // counts were reset
  const packsChanged = 'userPacks' in changes || 'packState' in changes;
  const settingsChanged = 'settings' in changes;
  if (!packsChanged && !settingsChanged) return;
  statePromise = null;
  /** @type {Partial<import('./lib/storage.js').Settings>} */
  const oldSettings = changes.settings?.oldValue ?? {};
  /** @type {Partial<import('./lib/storage.js').Settings>} */
  const newSettings = changes.settings?.newValue ?? {};
  const rescan = packsChanged || oldSettings.threshold !== newSettings.threshold ||
    JSON.stringify(oldSettings.disabledCategories ?? []) !== JSON.stringify(newSettings.disabledCategories ?? []);
  if (settingsChanged) {
    if (oldSettings.language !== newSettings.language) localize();
    if (oldSettings.autoUpdate !== newSettings.autoUpdate) scheduleUpdates();
    if (JSON.stringify(oldSettings.extraSites ?? []) !== JSON.stringify(newSettings.extraSites ?? [])) syncContentScripts().catch(() => {});
  }
  const ready = rescan ? rebuild() : Promise.resolve();
  ready.then(async () => {
    for (const port of ports) {
      try {
        port.postMessage(await configFor(siteUrlOf(port.sender)));
        if (rescan) port.postMessage({ type: P.toContent.rescan });
      } catch {
        ports.delete(port);
      }
    }
  });
});

async function onCommand(command, tab) {
  const target = tab?.id != null ? tab : (await api.tabs.query({ active: true, lastFocusedWindow: true }))[0];
  if (target?.id == null) return null;
  if (command === P.commands.nextFlagged) return api.tabs.sendMessage(target.id, { type: P.toTab.next }).catch(() => null);
  if (command === P.commands.flagPost) return api.tabs.sendMessage(target.id, { type: P.toTab.flagPost, via: 'key' }).catch(() => null);
  return null;
}
api.commands?.onCommand.addListener((command, tab) => { onCommand(command, tab); });

// "Flag this post": a post Flagpost missed, marked from the page's context menu.
function createMenu() {
  if (!hasMenus()) return;
  removeAllMenus()
    .then(() => state().then((st) => initI18n(st.settings.language)).catch(() => {}))
    .then(() => addMenuItem({ id: P.menuItems.flagPost, title: t('menuFlagPost'), contexts: ['page', 'selection', 'link', 'image'] }));
}

function onMenuClicked(info, tab) {
  if (info.menuItemId !== P.menuItems.flagPost || tab?.id == null) return null;
  return api.tabs.sendMessage(tab.id, { type: P.toTab.flagPost, via: 'menu' }, { frameId: 0 }).catch(() => null);
}
api.contextMenus?.onClicked.addListener((info, tab) => { onMenuClicked(info, tab); });

// ---- packs subscribed by URL: update checks, only when the user switched them on ----

function scheduleUpdates() {
  if (!api.alarms) return;
  state().then((st) => {
    const want = st.settings.autoUpdate && st.userPacks.some((p) => p.subscription);
    if (want) api.alarms.create(UPDATE_ALARM, { delayInMinutes: 1, periodInMinutes: 24 * 60 });
    else api.alarms.clear(UPDATE_ALARM);
  }).catch(() => {});
}

export async function checkSubscriptions({ manual = false } = {}) {
  await loadWasm();
  let st = await loadState();
  await initI18n(st.settings.language);
  const report = [];
  for (let i = 0; i < st.userPacks.length; i++) {
    const entry = st.userPacks[i];
    const sub = entry.subscription;
    if (!sub || (!manual && sub.hold)) continue;
    const deps = {
      checkPack, compileAll,
      summarize: (source, name) => summarize([{ name, source }])[0] ?? {},
      versionOf: (p) => summarize([p])[0]?.version,
      idOf: (p) => summarize([p])[0]?.id,
    };
    try {
      const out = await updateFromUrl(st, { index: i, url: sub.url, publicKey: sub.publicKey, manual }, deps);
      await save({ userPacks: out.userPacks });
      report.push({ url: sub.url, status: out.status, version: out.version });
    } catch (e) {
      const message = e instanceof PackRefused ? e.message : String(e?.message ?? e);
      const userPacks = st.userPacks.slice();
      userPacks[i] = { ...entry, subscription: { ...sub, checkedAt: Date.now(), error: message } };
      await save({ userPacks }).catch(() => {});
      report.push({ url: sub.url, status: 'refused', message });
    }
    st = await loadState();
  }
  return report;
}

api.alarms?.onAlarm.addListener((alarm) => {
  if (alarm.name === UPDATE_ALARM) checkSubscriptions().catch(() => {});
});

api.permissions?.onAdded?.addListener(() => syncContentScripts().catch(() => {}));
api.permissions?.onRemoved?.addListener(() => syncContentScripts().catch(() => {}));

api.runtime.onInstalled?.addListener((details) => {
  // Migrates stored data once per install or update; settings and packs are kept.
  state();
  createMenu();
  scheduleUpdates();
  syncContentScripts().catch(() => {});
  if (details?.reason === 'install') api.tabs.create({ url: api.runtime.getURL('extension/welcome/welcome.html') }).catch(() => {});
});

api.runtime.onStartup?.addListener(() => {
  createMenu();
  syncContentScripts().catch(() => {});
});

localize();

// The handlers behind browser UI that automated tests cannot click (the context menu, keyboard
// shortcuts) and the update check, for the extension's own tests. Only the extension's
// contexts can reach the worker's global object.
globalThis.flagpostTest = Object.freeze({ menuClicked: onMenuClicked, command: onCommand, checkSubscriptions });

// The worker starts because something needs it, nearly always a page with posts to scan: build
// the engine now instead of when the page's first message arrives.
engine().catch(() => {});
