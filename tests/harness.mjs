// Shared set-up for the Chromium end-to-end tests: the built extension loaded headless into
// a persistent context, its id and service worker, and helpers to drive its storage, to read
// the warnings' closed shadow roots and to run code in the content script's world (both over
// the DevTools protocol, as a page cannot).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The tests run the test build, which sets the page markers they read
// (FLAGPOST_TEST_MARKERS=1 ./build.sh build); dist/chrome is the build users install.
export const DIST_CHROME = path.join(REPO, 'dist', 'test-markers', 'chrome');
export const DIST_CHROME_USER = path.join(REPO, 'dist', 'chrome');
export const ARTIFACTS = path.join(REPO, 'tests', 'artifacts');

export function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  return execSync('command -v chromium || command -v chromium-browser', { shell: '/bin/bash' }).toString().trim();
}

// The build users install reads the supported sites only; tests open the fixture server under
// one of their names, mapped to 127.0.0.1 (a host with no HTTPS-only preload).
export const SUPPORTED_HOST = 'mastodon.online';
export const MAP_SUPPORTED_HOST = `--host-resolver-rules=MAP ${SUPPORTED_HOST} 127.0.0.1`;

export async function launchWithExtension(dir = DIST_CHROME, { args: extraArgs = [], env = {} } = {}) {
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw new Error(`${dir} is not built: run FLAGPOST_TEST_MARKERS=1 scripts/build-extension.sh`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1100, height: 900 },
    acceptDownloads: true,
    // English unless a test asks for another language, whatever the machine's locale.
    env: { ...process.env, LANGUAGE: 'en_US', ...env },
    args: [
      '--no-sandbox',
      `--disable-extensions-except=${dir}`,
      `--load-extension=${dir}`,
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-features=DialMediaRouteProvider,OptimizationHints,Translate,HttpsUpgrades',
      ...extraArgs,
    ],
  });
  let [worker] = context.serviceWorkers();
  worker ??= await context.waitForEvent('serviceworker', { timeout: 20000 });
  const extensionId = new URL(worker.url()).host;
  return {
    context,
    worker,
    extensionId,
    extensionUrl: (p) => `chrome-extension://${extensionId}/${p}`,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// The service worker may have been stopped and restarted: always ask the context for the live one.
export async function liveWorker(ext) {
  const [w] = ext.context.serviceWorkers();
  return w ?? ext.context.waitForEvent('serviceworker', { timeout: 20000 });
}

// Stops the extension's service worker and waits until the browser reports it stopped.
// Returns the worker's states as the browser reports them; with `keepWatching` they are
// still recorded after the stop, until `detach()`.
export async function stopWorker(ext, page, { keepWatching = false } = {}) {
  const cdp = await ext.context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  const statuses = [];
  cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
    for (const v of e.versions) if (v.scriptURL.startsWith(`chrome-extension://${ext.extensionId}/`)) statuses.push(v.runningStatus);
  });
  await cdp.send('ServiceWorker.stopAllWorkers');
  const until = Date.now() + 5000;
  while (!statuses.includes('stopped') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (!keepWatching) await cdp.detach();
  assert.ok(statuses.includes('stopped'), `worker states: ${statuses}`);
  return { statuses, detach: () => cdp.detach() };
}

export async function setStorage(ext, values) {
  const w = await liveWorker(ext);
  await w.evaluate((v) => chrome.storage.local.set(v), values);
}

export async function getStorage(ext, keys = null) {
  const w = await liveWorker(ext);
  return w.evaluate((k) => chrome.storage.local.get(k), keys);
}

export function readPack(name) {
  return fs.readFileSync(path.join(REPO, 'tests', 'packs', name), 'utf8');
}

// Uses only the end-to-end test pack: fixed rule ids for exact assertions.
export async function useTestPack(ext, settings = {}) {
  await setStorage(ext, {
    schema: 2,
    userPacks: [{ name: 'test-recruitment.toml', source: readPack('test-recruitment.toml'), importedAt: 1 }],
    packState: { recruitment: { enabled: false, shadow: false, disabledRules: [] } },
    settings: { mode: 'banner', threshold: null, disabledSites: [], ...settings },
  });
}

// Waits until every [data-expect] post under the page has a marker, then returns what each got.
export async function markers(page, { timeout = 10000, selector = '[data-expect]' } = {}) {
  await page.waitForFunction((sel) => {
    const posts = document.querySelectorAll(sel);
    return posts.length > 0 && [...posts].every((p) => p.dataset.flagpost);
  }, selector, { timeout });
  return page.locator(selector).evaluateAll((posts) => posts.map((p) => ({
    id: p.id || p.dataset.postId || p.dataset.mid || p.dataset.source,
    expect: p.dataset.expect,
    initially: p.dataset.expectInitially,
    expectRules: (p.dataset.expectRules ?? '').split(' ').filter(Boolean).sort(),
    got: p.dataset.flagpost,
    rules: (p.dataset.flagpostRules ?? '').split(' ').filter(Boolean).sort(),
    score: p.dataset.flagpostScore,
    warnings: [...p.querySelectorAll('flagpost-warning')].filter((w) => w.parentElement.closest(
      '[data-expect]') === p).length,
  })));
}

async function callOnShadowRoot(cdp, objectId, fn, arg) {
  const { node } = await cdp.send('DOM.describeNode', { objectId, depth: 1, pierce: true });
  const root = node.shadowRoots?.[0];
  if (!root) return { missing: 'no shadow root' };
  const { object } = await cdp.send('DOM.resolveNode', { backendNodeId: root.backendNodeId });
  const r = await cdp.send('Runtime.callFunctionOn', {
    objectId: object.objectId,
    functionDeclaration: `function (arg) { return (${fn})(this, arg); }`,
    arguments: [{ value: arg }],
    returnByValue: true,
    awaitPromise: true,
  });
  if (r.exceptionDetails) throw new Error(`in shadow root: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return { value: r.result.value, mode: root.shadowRootType };
}

// Runs fn(shadowRoot, arg) on the shadow root (open or closed) of the element that
// `expression` (evaluated in the page) returns. Returns { value, mode } or { missing }.
export async function inShadow(page, expression, fn, arg = null) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { result } = await cdp.send('Runtime.evaluate', { expression });
    if (!result.objectId) return { missing: 'no element' };
    return await callOnShadowRoot(cdp, result.objectId, fn, arg);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

// The same, on the index-th <flagpost-warning> of the test build; returns fn's value.
export async function inWarning(page, fn, arg = null, { index = 0, within = 'document' } = {}) {
  const out = await inShadow(page, `${within}.querySelectorAll('flagpost-warning')[${index}]`, fn, arg);
  if (out.missing) throw new Error(`warning ${index}: ${out.missing}`);
  assert.equal(out.mode, 'closed', 'the warning renders into a closed shadow root');
  return out.value;
}

// Evaluates `expression` (may be a promise) in Flagpost's content-script world of the page's
// main frame, as the content script itself would run it.
export async function inContentScript(page, expression) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const contexts = [];
    cdp.on('Runtime.executionContextCreated', (e) => contexts.push(e.context));
    await cdp.send('Runtime.enable');
    const { frameTree } = await cdp.send('Page.getFrameTree');
    const until = Date.now() + 5000;
    let ctx = null;
    while (!ctx && Date.now() < until) {
      ctx = contexts.find((c) => c.auxData?.frameId === frameTree.frame.id && c.auxData?.isDefault === false &&
        String(c.origin).startsWith('chrome-extension://'));
      if (!ctx) await new Promise((r) => setTimeout(r, 50));
    }
    if (!ctx) throw new Error('no content-script world in this page');
    const r = await cdp.send('Runtime.evaluate', { expression, contextId: ctx.id, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) return { error: r.exceptionDetails.exception?.description ?? r.exceptionDetails.text };
    return { value: r.result.value };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

export function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, name) });
}
