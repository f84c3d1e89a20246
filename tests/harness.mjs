// Shared set-up for the Chromium end-to-end tests: the built extension loaded headless into
// a persistent context, its id and service worker, and helpers to drive its storage.
import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST_CHROME = path.join(REPO, 'dist', 'chrome');
export const ARTIFACTS = path.join(REPO, 'tests', 'artifacts');

export function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  return execSync('command -v chromium || command -v chromium-browser', { shell: '/bin/bash' }).toString().trim();
}

export async function launchWithExtension(dir = DIST_CHROME) {
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw new Error(`${dir} is not built: run scripts/build-extension.sh`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1100, height: 900 },
    acceptDownloads: true,
    args: [
      '--no-sandbox',
      `--disable-extensions-except=${dir}`,
      `--load-extension=${dir}`,
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-features=DialMediaRouteProvider,OptimizationHints,Translate',
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

export function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, name) });
}
