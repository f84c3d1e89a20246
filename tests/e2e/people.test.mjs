// End-to-end tests in headless Chromium for the people who use Flagpost (issue 8, items 9-14):
// feedback on the post itself, count-only mode a team can use, packs that travel, a gentle
// default, their language, and accessibility and store-readiness.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../server.mjs';
import {
  launchWithExtension, liveWorker, useTestPack, setStorage, getStorage, markers, readPack, inWarning, inShadow, REPO,
} from '../harness.mjs';

let server;
let ext;
let welcomeAtInstall = null;
// Served packs for the subscription tests: path → bytes (and every request the server got).
const served = new Map();

before(async () => {
  server = await startServer({
    extraRoutes: Object.fromEntries(['/packs/remote.toml', '/packs/remote.toml.sig'].map((p) => [p, (req, res) => {
      const body = served.get(p);
      if (!body) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    }])),
  });
  ext = await launchWithExtension();
  // The first-run page opens by itself on install.
  const deadline = Date.now() + 5000;
  while (!welcomeAtInstall && Date.now() < deadline) {
    welcomeAtInstall = ext.context.pages().find((p) => p.url().endsWith('/extension/welcome/welcome.html')) ?? null;
    if (!welcomeAtInstall) await new Promise((r) => setTimeout(r, 100));
  }
  await useTestPack(ext);
});

after(async () => {
  await ext?.close();
  await server?.close();
});

async function open(name) {
  const page = await ext.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${server.origin}/${name}`);
  return page;
}

async function openExtensionPage(p) {
  const page = await ext.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(ext.extensionUrl(p));
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function tabIdOf(url) {
  const w = await liveWorker(ext);
  return w.evaluate(async (u) => (await chrome.tabs.query({ url: u }))[0]?.id, url);
}

async function resetState(extra = {}) {
  await setStorage(ext, { marks: {}, dismissed: {}, hitCounts: {}, trialHits: [], countsSince: 0, ...extra });
  await useTestPack(ext);
}

// Polls `read` until `ok` holds for what it returns (or time runs out), and returns that.
async function eventually(read, ok, ms = 10000) {
  const end = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

const storedMarks = async () => Object.values((await getStorage(ext, 'marks')).marks ?? {});

async function flushCounts(page) {
  await page.evaluate(() => chrome.runtime.sendMessage({ type: 'flushCounts' }));
}

// ---- 10. Feedback on the post itself ----

test('Right and wrong flag on the warning are stored privately, shown pressed, and undone by a second press (10)', async () => {
  await resetState();
  const page = await open('telegram.html');
  await markers(page);
  const attributesBefore = await page.locator('[data-mid]').evaluateAll((els) => els.map((e) => e.getAttributeNames().join(' ')));
  const pressed = (i) => inWarning(page, (root) => [...root.querySelectorAll('button.right, button.wrong')]
    .map((b) => `${b.textContent}:${b.getAttribute('aria-pressed')}`), null, { index: i });
  assert.deepEqual(await pressed(0), ['Right flag:false', 'Wrong flag:false']);
  await inWarning(page, (root) => root.querySelector('button.right').click(), null, { index: 0 });
  await inWarning(page, (root) => root.querySelector('button.wrong').click(), null, { index: 1 });
  assert.deepEqual(await pressed(0), ['Right flag:true', 'Wrong flag:false']);
  assert.deepEqual(await pressed(1), ['Right flag:false', 'Wrong flag:true']);
  const list = (await eventually(storedMarks, (m) => m.length === 2)).sort((a, b) => a.time - b.time);
  assert.deepEqual(list.map((m) => [m.label, m.url, m.context, m.rules.sort().join(' ')]), [
    [true, `${server.origin}/telegram.html`, 'Добровольцы', 'no-questions tourist-cover'],
    [false, `${server.origin}/telegram.html`, 'Добровольцы', 'tourist-cover'],
  ]);
  // The page learns nothing: its elements carry no new attribute (the test build's markers aside).
  const strip = (s) => s.split(' ').filter((a) => !a.startsWith('data-flagpost')).join(' ');
  assert.deepEqual((await page.locator('[data-mid]').evaluateAll((els) => els.map((e) => e.getAttributeNames().join(' ')))).map(strip), attributesBefore.map(strip));
  // A mark made on the warning is the popup's too, and the warning shows it after a reload.
  await page.reload();
  await markers(page);
  await page.waitForFunction(() => document.querySelectorAll('flagpost-warning').length === 2);
  assert.deepEqual(await pressed(0), ['Right flag:true', 'Wrong flag:false']);
  const tabId = await tabIdOf(`${server.origin}/telegram.html`);
  const popup = await openPopup(tabId);
  assert.equal(await popup.locator('#posts li').nth(1).locator('button.bad').getAttribute('aria-pressed'), 'true');
  await popup.close();
  // Pressing again takes the mark back.
  await inWarning(page, (root) => root.querySelector('button.wrong').click(), null, { index: 1 });
  assert.deepEqual((await eventually(storedMarks, (m) => m.length === 1)).map((m) => m.label), [true]);
  assert.deepEqual(await pressed(1), ['Right flag:false', 'Wrong flag:false']);
  await page.close();
});

async function openPopup(tabId) {
  const popup = await ext.context.newPage();
  await popup.setViewportSize({ width: 400, height: 600 });
  await popup.goto(ext.extensionUrl(`extension/popup/popup.html?tab=${tabId}`));
  await popup.waitForSelector('body[data-ready="true"]');
  return popup;
}

test('"Flag this post" from the context menu and the keyboard marks missed posts; exported marks let flagpost eval measure recall (10)', async () => {
  await resetState();
  const page = await open('telegram.html');
  await markers(page);
  const tabId = await tabIdOf(`${server.origin}/telegram.html`);
  const w = await liveWorker(ext);
  // The menu entry and the keyboard command are the background's.
  const manifest = await w.evaluate(() => chrome.runtime.getManifest());
  assert.deepEqual(manifest.commands['flag-post'].suggested_key, { default: 'Alt+Shift+F' });
  assert.ok(manifest.permissions.includes('contextMenus'));

  // Post 1001 is a real recruitment call the test pack misses. Right-click it, choose the menu entry.
  await page.click('[data-mid="1001"] .translatable-message', { button: 'right' });
  await w.evaluate((id) => globalThis.flagpostTest.menuClicked({ menuItemId: 'flag-post', frameId: 0 }, { id }), tabId);
  const notice = await page.waitForFunction(() => document.querySelector('[data-mid="1001"] flagpost-notice'));
  assert.ok(notice);
  const said = await inShadow(page, 'document.querySelector("[data-mid=\\"1001\\"] flagpost-notice")', (root) => ({
    text: root.querySelector('.notice-text').textContent, focused: root.activeElement?.textContent ?? null,
  }));
  assert.deepEqual(said.value, { text: 'Flagged by you: this post is in your marks as one Flagpost missed.', focused: 'Undo' });

  // Keyboard: the reader clicks into a post (the flagged one, 1000), which leaves the caret
  // there, and uses the command: a right flag.
  await page.click('[data-mid="1000"] .translatable-message');
  await w.evaluate((id) => globalThis.flagpostTest.command('flag-post', { id }), tabId);
  await page.waitForFunction(() => document.querySelector('[data-mid="1000"] flagpost-notice'));
  assert.deepEqual(await inWarning(page, (root) => root.querySelector('button.right').getAttribute('aria-pressed')), 'true');
  // An IRA tweet (1003) flagged by mistake as missed, then undone.
  await page.click('[data-mid="1003"] .translatable-message', { button: 'right' });
  await w.evaluate((id) => globalThis.flagpostTest.menuClicked({ menuItemId: 'flag-post', frameId: 0 }, { id }), tabId);
  await page.waitForFunction(() => document.querySelector('[data-mid="1003"] flagpost-notice'));
  await eventually(storedMarks, (m) => m.length === 3);
  await inShadow(page, 'document.querySelector("[data-mid=\\"1003\\"] flagpost-notice")', (root) => root.querySelector('button').click());
  await eventually(storedMarks, (m) => m.length === 2);
  // A wrong flag on the other flagged post.
  await inWarning(page, (root) => root.querySelector('button.wrong').click(), null, { index: 1 });
  await eventually(storedMarks, (m) => m.length === 3);

  // Export from the popup: labelled JSON Lines with context, false negatives included.
  const popup = await openPopup(tabId);
  assert.equal(await popup.locator('#marks-count').textContent(), '3 posts marked (all pages).');
  const [download] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-labels')]);
  const file = await download.path();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  const missed = lines.find((l) => l.missed);
  assert.match(missed.text, /^"Завтра з 10 до 14 приїдемо на Майдан/);
  assert.equal(missed.label, true);
  assert.equal(missed.context, 'Добровольцы');
  assert.deepEqual(lines.map((l) => l.label).sort(), [false, true, true]);
  await popup.close();

  // flagpost eval reads the export directly and counts the missed post as a false negative.
  const cli = path.join(REPO, 'target', 'release', 'flagpost');
  assert.ok(fs.existsSync(cli), 'the command line is built (./build.sh build)');
  const report = JSON.parse(execFileSync(cli, ['eval', '--pack', path.join(REPO, 'tests', 'packs', 'test-recruitment.toml'), '--labelled', file, '--json'], { encoding: 'utf8' }));
  assert.deepEqual(report.confusion, { true_positives: 1, false_positives: 1, false_negatives: 1, true_negatives: 0 });
  assert.equal(report.recall, 0.5);
  await page.close();
});

// ---- 11. Count-only mode a team can use ----

test('Count-only: the posts a trial pack would flag are listed, hit counts run in every mode and reset (11)', async () => {
  await resetState({ packState: { recruitment: { enabled: false, shadow: false, disabledRules: [] }, e2e: { enabled: true, shadow: true, disabledRules: [] } } });
  await setStorage(ext, { packState: { recruitment: { enabled: false, shadow: false, disabledRules: [] }, e2e: { enabled: true, shadow: true, disabledRules: [] } } });
  const page = await open('telegram.html');
  const list = await markers(page);
  assert.ok(list.every((m) => m.got === 'clean'), 'a count-only pack shows no warning');
  const options = await openExtensionPage('extension/options/options.html');
  await flushCounts(options);
  await options.waitForFunction(() => document.querySelectorAll('#trial-list li[data-pack="e2e"]').length === 2);
  const trial = await options.locator('#trial-list li[data-pack="e2e"] .text').allTextContents();
  assert.ok(trial.some((t) => t.includes('ты обычный турист')), trial.join('\n'));
  const hits = () => options.locator('.pack[data-pack="e2e"] tr[data-rule] td.hits').evaluateAll((tds) =>
    Object.fromEntries(tds.map((td) => [td.closest('tr').dataset.rule, Number(td.textContent)])));
  await options.waitForFunction(() => document.querySelector('.pack[data-pack="e2e"] tr[data-rule="tourist-cover"] td.hits').textContent === '2');
  assert.deepEqual(await hits(), { 'age-range-travel': 0, 'tourist-cover': 2, 'hijrah-call': 0, 'no-questions': 1 });
  // The same posts seen again are not counted again.
  await page.reload();
  await markers(page);
  await flushCounts(options);
  await options.waitForTimeout(300);
  assert.equal((await hits())['tourist-cover'], 2);
  // Trial list exported for the team as JSON Lines.
  const [download] = await Promise.all([options.waitForEvent('download'), options.click('#trial-export')]);
  const rows = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.pack === 'e2e' && r.text && r.rules.length && r.context === 'Добровольцы'));

  // In the normal mode the counts keep running.
  await options.locator('.pack[data-pack="e2e"] input.pack-shadow').uncheck();
  const x = await open('x.html');
  await x.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  await flushCounts(options);
  await options.waitForFunction(() => document.querySelector('.pack[data-pack="e2e"] tr[data-rule="hijrah-call"] td.hits').textContent === '1');
  // Reset.
  await options.click('#counts-reset');
  await options.waitForFunction(() => [...document.querySelectorAll('.pack[data-pack="e2e"] td.hits')].every((td) => td.textContent === '0'));
  assert.match(await options.locator('#counts-since').textContent(), /^Hit counts since /);
  await options.click('#trial-clear');
  await options.waitForFunction(() => !document.querySelector('#trial-list li[data-pack]'));
  await x.close();
  await options.close();
  await page.close();
});

test('Category switches turn a kind of post off and on (11)', async () => {
  await resetState();
  const page = await open('x.html');
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  const options = await openExtensionPage('extension/options/options.html');
  const box = options.locator('#category-list input[data-category="jihadist_hijrah"]');
  assert.equal(await options.locator('#category-list label:has(input[data-category="jihadist_hijrah"])').textContent(), ' Call to make hijrah');
  await box.uncheck();
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 0);
  assert.deepEqual((await getStorage(ext, 'settings')).settings.disabledCategories, ['jihadist_hijrah']);
  // The playground follows the switch too.
  await options.fill('#playground-input', 'My best advice to you is to make hijrah.');
  await options.waitForSelector('#playground-verdict[data-flagged="false"]');
  await box.check();
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  await options.close();
  await page.close();
});

test('Threshold preview: how many posts on the open page each setting would flag, as the page then shows (11)', async () => {
  await resetState();
  const page = await open('telegram.html');
  await markers(page);
  await page.bringToFront();
  const options = await openExtensionPage('extension/options/options.html');
  await options.waitForSelector('#preview[data-ready="true"]');
  const table = () => options.locator('#preview-table tbody tr').evaluateAll((rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.threshold, Number(r.cells[1].textContent)])));
  const preview = await table();
  assert.match(await options.locator('#preview-page').textContent(), /telegram\.html: \d+ posts read/);
  assert.equal(preview.own, await page.locator('[data-flagpost="flagged"]').count());
  assert.equal(preview.own, 2);
  assert.equal(preview['1.5'], 1, JSON.stringify(preview));
  assert.equal(preview['3'], 0);
  // Typing a value adds it to the preview; applying it gives what the preview said.
  await options.fill('#threshold', '1.5');
  await options.waitForFunction(() => document.querySelector('#preview-table tr[data-threshold="1.5"]'));
  await options.click('#threshold-save');
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  await options.click('#threshold-reset');
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 2);
  await options.close();
  await page.close();
});

// ---- 12. Packs that travel ----

function keyPair() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return { publicKey: raw.toString('base64'), sign: (bytes) => crypto.sign(null, bytes, privateKey).toString('base64') };
}

function remotePack(version, extra = '') {
  return Buffer.from(readPack('test-recruitment.toml')
    .replace('id = "e2e"', 'id = "remote"').replace('name = "End-to-end test pack"', 'name = "Remote test pack"')
    .replace('version = "0.3.0"', `version = "${version}"`) + extra);
}

function serve(bytes, signature) {
  served.set('/packs/remote.toml', bytes);
  served.set('/packs/remote.toml.sig', Buffer.from(signature));
}

test('Export round-trips byte for byte: the exported file is the imported one, and imports again (12)', async () => {
  await resetState();
  const options = await openExtensionPage('extension/options/options.html');
  // A pack with a byte-order mark, CRLF line ends and Cyrillic text (written for this test).
  const source = `\ufeff${readPack('test-recruitment.toml').replace('version = "0.3.0"', 'version = "0.3.2"').replace(/\n/g, '\r\n')}# Пакет для проверки\r\n`;
  const bytes = Buffer.from(source, 'utf8');
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  await options.setInputFiles('#import-file', { name: 'crlf-pack.toml', mimeType: 'text/plain', buffer: bytes });
  await options.waitForSelector('#import-result .ok');
  await options.waitForSelector('.pack[data-pack="e2e"] code:text("e2e 0.3.2")');
  const [download] = await Promise.all([options.waitForEvent('download'), options.locator('.pack[data-pack="e2e"] button.export').click()]);
  assert.equal(download.suggestedFilename(), 'crlf-pack.toml');
  const exported = fs.readFileSync(await download.path());
  assert.ok(exported.equals(bytes), 'exported bytes equal the imported file');
  // The shipped pack exports as the file in extension/packs/.
  const [shipped] = await Promise.all([options.waitForEvent('download'), options.locator('.pack[data-pack="recruitment"] button.export').click()]);
  assert.ok(fs.readFileSync(await shipped.path()).equals(fs.readFileSync(path.join(REPO, 'extension', 'packs', 'recruitment.toml'))));
  // The exported file imports again (as the same version, replacing it).
  await options.setInputFiles('#import-file', { name: 'crlf-pack.toml', mimeType: 'text/plain', buffer: exported });
  await options.waitForSelector('#import-result .ok');
  // A file that is not UTF-8 is refused, and nothing changes.
  await options.setInputFiles('#import-file', { name: 'latin1.toml', mimeType: 'text/plain', buffer: Buffer.from([0x69, 0x64, 0x20, 0x3d, 0x20, 0xe9, 0x0a]) });
  await options.waitForSelector('#import-result .error');
  assert.match(await options.locator('#import-result').textContent(), /not UTF-8/);
  await options.close();
});

test('Packs by URL: signed with Ed25519, refused when the signature fails or the version is not newer, updated, rolled back (12)', async () => {
  await resetState();
  const keys = keyPair();
  const v1 = remotePack('1.0.0');
  serve(v1, keys.sign(v1));
  const options = await openExtensionPage('extension/options/options.html');
  const requestsBefore = server.requests.length;
  const url = `${server.origin}/packs/remote.toml`;

  // A key that is not an Ed25519 public key is refused before anything is fetched.
  await options.fill('#subscribe-url', url);
  await options.fill('#subscribe-key', 'bm90IGEga2V5');
  await options.click('#subscribe-form button[type="submit"]');
  await options.waitForSelector('#subscribe-result .error');
  assert.match(await options.locator('#subscribe-result').textContent(), /Ed25519 key: base64 of 32 bytes/);
  assert.equal(server.requests.slice(requestsBefore).filter((u) => u.startsWith('/packs/')).length, 0);

  // The key of another publisher: the signature does not verify, nothing is installed.
  await options.fill('#subscribe-key', keyPair().publicKey);
  await options.click('#subscribe-form button[type="submit"]');
  await options.waitForFunction(() => /does not match the publisher's key/.test(document.querySelector('#subscribe-result').textContent));
  assert.equal((await getStorage(ext, 'userPacks')).userPacks.some((p) => p.subscription), false);

  // The right key.
  await options.fill('#subscribe-key', keys.publicKey);
  await options.click('#subscribe-form button[type="submit"]');
  await options.waitForSelector('#subscribe-result .ok');
  assert.match(await options.locator('#subscribe-result').textContent(), /Subscribed to Remote test pack \(remote 1\.0\.0\); the signature matches/);
  await options.waitForSelector('.pack[data-pack="remote"][data-origin="subscribed"] code:text("remote 1.0.0")');
  let entry = (await getStorage(ext, 'userPacks')).userPacks.find((p) => p.subscription);
  assert.deepEqual({ url: entry.subscription.url, key: entry.subscription.publicKey }, { url, key: keys.publicKey });
  // The only requests: the pack and its signature, at the address the user gave.
  const asked = server.requests.slice(requestsBefore).filter((u) => !/\.(html|css|js|json)$/.test(u) || u.startsWith('/packs/'));
  assert.deepEqual([...new Set(asked)].sort(), ['/packs/remote.toml', '/packs/remote.toml.sig']);

  // The subscribed pack flags posts.
  const page = await open('x.html');
  await page.waitForFunction(() => document.querySelector('[data-flagpost="flagged"]'));

  // Someone changes the pack on the server (v1.1.0) without the publisher's key: refused.
  const tampered = remotePack('1.1.0', '\n# changed by someone else\n');
  serve(tampered, keys.sign(v1));
  await options.click('#check-now');
  await options.waitForFunction(() => /does not match the publisher's key/.test(document.querySelector('#subscribe-result').textContent));
  await options.waitForSelector('.pack[data-pack="remote"] .sub-error');
  entry = (await getStorage(ext, 'userPacks')).userPacks.find((p) => p.subscription);
  assert.match(entry.source, /version = "1\.0\.0"/, 'the installed version keeps working');

  // The publisher signs 1.1.0: updated, and 1.0.0 goes into the history.
  const v11 = remotePack('1.1.0');
  serve(v11, keys.sign(v11));
  await options.click('#check-now');
  await options.waitForFunction(() => /updated to 1\.1\.0/.test(document.querySelector('#subscribe-result').textContent));
  await options.waitForSelector('.pack[data-pack="remote"] code:text("remote 1.1.0")');
  // An older version, properly signed, is not taken.
  const older = remotePack('1.0.5');
  serve(older, keys.sign(older));
  await options.click('#check-now');
  await options.waitForFunction(() => /remote 1\.0\.5 is not newer than the installed 1\.1\.0/.test(document.querySelector('#subscribe-result').textContent));
  // The exported subscribed pack is the file the publisher signed.
  serve(v11, keys.sign(v11));
  const [download] = await Promise.all([options.waitForEvent('download'), options.locator('.pack[data-pack="remote"] button.export').click()]);
  assert.ok(fs.readFileSync(await download.path()).equals(v11));

  // Roll back to 1.0.0; automatic checks then hold off, a manual check brings 1.1.0 back.
  await options.locator('.pack[data-pack="remote"] details.history summary').click();
  await options.locator('.pack[data-pack="remote"] button.rollback[data-version="1.0.0"]').click();
  await options.waitForSelector('.pack[data-pack="remote"] code:text("remote 1.0.0")');
  entry = (await getStorage(ext, 'userPacks')).userPacks.find((p) => p.subscription);
  assert.equal(entry.subscription.hold, true);
  assert.deepEqual(entry.history.map((h) => h.version), ['1.1.0']);
  const w = await liveWorker(ext);
  const automatic = await w.evaluate(() => globalThis.flagpostTest.checkSubscriptions({ manual: false }));
  assert.deepEqual(automatic, []);
  await options.click('#check-now');
  await options.waitForSelector('.pack[data-pack="remote"] code:text("remote 1.1.0")');

  // Update checks are opt-in: the daily alarm exists only while the switch is on.
  assert.equal(await w.evaluate(() => chrome.alarms.get('flagpost-pack-updates').then((a) => !!a)), false);
  const alarm = () => w.evaluate(() => chrome.alarms.get('flagpost-pack-updates').then((a) => a?.periodInMinutes ?? null));
  await options.check('#auto-update');
  assert.equal(await eventually(alarm, (a) => a !== null), 1440);
  await options.uncheck('#auto-update');
  assert.equal(await eventually(alarm, (a) => a === null), null);
  await page.close();
  await options.close();
  // Leave the subscription out of the other tests.
  await resetState();
});

// ---- 13. A gentle default ----

test('First-run page in plain words: what it does, what it never does, how to turn it off per site (13)', async () => {
  assert.ok(welcomeAtInstall, 'the welcome page opened on install');
  const page = welcomeAtInstall;
  await page.waitForSelector('body[data-ready="true"]');
  const text = await page.locator('main').innerText();
  for (const phrase of [/What it does/, /What it never does/, /never sends what you read anywhere/i, /How to turn it off on a site/, /Pause on this site/]) {
    assert.match(text, phrase);
  }
  // No jargon, no shouting.
  assert.doesNotMatch(text, /\b(regex|heuristic|classifier|DOM|wasm|WebAssembly)\b/i);
  assert.equal(text.match(/\b[A-Z]{4,}\b/g), null);
  // Its choice of how notes look is saved.
  await page.check('input[name="mode"][value="highlight"]');
  await page.waitForFunction(() => document.getElementById('choice-status').textContent === 'Saved');
  assert.equal((await getStorage(ext, 'settings')).settings.mode, 'highlight');
  await page.check('input[name="mode"][value="banner"]');
  await page.waitForTimeout(200);
});

test('"What can I do": report link for the site, help and hotlines page, turn off on this site (13)', async () => {
  await resetState();
  const page = await open('x.html');
  await markers(page);
  await inWarning(page, (root) => root.querySelector('button.toggle').click());
  const help = await inWarning(page, (root) => ({
    title: root.querySelector('.help-title').textContent,
    report: [...root.querySelectorAll('.help a')].map((a) => [a.textContent, a.href, a.rel, a.target]),
    buttons: [...root.querySelectorAll('.help button')].map((b) => b.textContent),
  }));
  assert.deepEqual(help, {
    title: 'What can I do?',
    report: [['Report it to the site', 'https://help.x.com/en/rules-and-policies/x-report-violation', 'noopener noreferrer', '_blank']],
    buttons: ['Help and hotlines', 'Turn off on this site'],
  });
  const [helpPage] = await Promise.all([
    ext.context.waitForEvent('page'),
    inWarning(page, (root) => root.querySelector('button.help-page').click()),
  ]);
  await helpPage.waitForLoadState();
  assert.equal(helpPage.url(), ext.extensionUrl('extension/help/help.html'));
  await helpPage.waitForSelector('body[data-ready="true"]');
  assert.match(await helpPage.locator('main').innerText(), /Report it to the site[\s\S]*Hotlines/);
  await helpPage.close();
  await inWarning(page, (root) => root.querySelector('button.pause-site').click());
  await page.waitForFunction(() => !document.querySelector('flagpost-warning') && !document.querySelector('[data-flagpost]'));
  assert.deepEqual((await getStorage(ext, 'settings')).settings.disabledSites, ['127.0.0.1']);
  await resetState();
  await page.close();
});

// ---- 9. Their language ----

const catalog = (lang) => JSON.parse(fs.readFileSync(path.join(REPO, '_locales', lang, 'messages.json'), 'utf8'));

test('Language: warnings, categories, rule descriptions, popup, options, playground and errors in Russian and Ukrainian, chosen in the options (9)', async () => {
  await resetState();
  const ru = catalog('ru');
  const uk = catalog('uk');
  const options = await openExtensionPage('extension/options/options.html');
  await options.selectOption('#language', 'ru');
  await options.waitForFunction(() => document.documentElement.lang === 'ru');
  assert.equal(await options.locator('#display-title').textContent(), ru.optDisplay.message);
  assert.equal(await options.locator('#packs-title').textContent(), ru.optPacks.message);
  // The shipped pack's rules, categories and severities in the rules table.
  await options.locator('.pack[data-pack="recruitment"] details.rule-list summary').click();
  const row = await options.locator('.pack[data-pack="recruitment"] tr[data-rule="tourist-cover"] td').allTextContents();
  assert.equal(row[2], ru.cat_concealment.message);
  assert.equal(row.at(-1), ru.rule_tourist_cover.message);
  // Playground and errors.
  await options.fill('#playground-input', 'My best advice to you is to make hijrah.');
  await options.waitForSelector('#playground-verdict[data-flagged="true"]');
  assert.match(await options.locator('#playground-verdict').textContent(), new RegExp(`^${ru.optFlagged.message} — `));
  await options.setInputFiles('#import-file', { name: 'broken.toml', mimeType: 'text/plain', buffer: Buffer.from(readPack('broken.toml')) });
  await options.waitForSelector('#import-result .error');
  assert.match(await options.locator('#import-result').textContent(), /broken\.toml не импортирован; работающие наборы не изменились\./);

  // The warning on a page, with the shipped pack (its rules translated) and the test pack.
  await setStorage(ext, { packState: { recruitment: { enabled: true, shadow: false, disabledRules: [] }, e2e: { enabled: true, shadow: false, disabledRules: [] } } });
  const page = await open('telegram.html');
  await markers(page);
  const w = await inWarning(page, (root) => ({
    label: root.querySelector('.box').getAttribute('aria-label'), title: root.querySelector('.title').textContent,
    reason: root.querySelector('.reason').textContent, buttons: [...root.querySelectorAll('.actions button')].map((b) => b.textContent),
    rules: [...root.querySelectorAll('.details li')].map((li) => li.textContent),
  }));
  assert.match(w.label, /^Предупреждение Flagpost: /);
  assert.ok(w.title.includes(ru.cat_concealment.message), w.title);
  assert.deepEqual(w.buttons, [ru.w_why.message, ru.w_rightFlag.message, ru.w_wrongFlag.message, ru.w_dismiss.message]);
  // Every rule of the shipped pack in the details is described in Russian.
  const shippedRules = await inWarning(page, (root) => [...root.querySelectorAll('.details li')]
    .filter((li) => /pack recruitment|набор recruitment/.test(li.textContent)).map((li) => [li.querySelector('code').textContent, li.textContent]));
  assert.ok(shippedRules.length > 0, w.rules.join('\n'));
  for (const [id, text] of shippedRules) assert.ok(text.includes(ru[`rule_${id.replace(/[^A-Za-z0-9_]/g, '_')}`].message), text);
  const ruleTexts = Object.entries(ru).filter(([k]) => k.startsWith('rule_')).map(([, v]) => v.message);
  assert.ok(ruleTexts.includes(w.reason) || w.reason === 'Tells recruits to pass as ordinary tourists', w.reason);
  // The popup, with Russian plural forms.
  const tabId = await tabIdOf(`${server.origin}/telegram.html`);
  const popup = await openPopup(tabId);
  const flagged = await page.locator('[data-flagpost="flagged"]').count();
  const form = new Intl.PluralRules('ru').select(flagged);
  assert.equal(await popup.locator('#summary').textContent(), ru[`popupCount_${form}`].message.replace('$1', String(flagged)));
  assert.equal(await popup.locator('#next').textContent(), ru.popupNext.message);
  await popup.close();

  // Switching to Ukrainian redraws the open page's warnings in Ukrainian, without a reload.
  await options.selectOption('#language', 'uk');
  await page.waitForTimeout(300);
  await page.waitForFunction(() => document.querySelector('flagpost-warning'));
  const title = await inWarning(page, (root) => root.querySelector('.title').textContent);
  assert.ok(title.includes(uk.cat_concealment.message), title);
  assert.equal(await options.locator('#display-title').textContent(), uk.optDisplay.message);
  await options.selectOption('#language', 'auto');
  await options.waitForFunction(() => document.documentElement.lang === 'en');
  await page.close();
  await options.close();
  await resetState();
});

test('Language follows the browser: Ukrainian Chromium gets the Ukrainian store listing, popup and warnings (9)', async () => {
  const uk = catalog('uk');
  const other = await launchWithExtension(undefined, { args: ['--lang=uk'], env: { LANGUAGE: 'uk', LANG: 'uk_UA.UTF-8', LC_ALL: '' } });
  try {
    await useTestPack(other);
    const w = await liveWorker(other);
    assert.equal(await w.evaluate(() => chrome.i18n.getUILanguage()), 'uk');
    assert.equal(await w.evaluate(() => chrome.i18n.getMessage('extDescription')), uk.extDescription.message);
    const page = await other.context.newPage();
    await page.goto(`${server.origin}/x.html`);
    await markers(page);
    assert.equal(await inWarning(page, (root) => root.querySelector('.title').textContent), `⚑ ${uk.cat_jihadist_hijrah.message}`);
    const welcome = await other.context.newPage();
    await welcome.goto(other.extensionUrl('extension/welcome/welcome.html'));
    await welcome.waitForSelector('body[data-ready="true"]');
    assert.equal(await welcome.locator('h1').textContent(), uk.welTitle.message);
    assert.equal(await welcome.title(), uk.welTitle.message);
  } finally {
    await other.close();
  }
});

// ---- 14. Accessible and store-ready ----

const AXE_SOURCE = fs.readFileSync(path.join(REPO, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

// Serious and critical axe-core violations on the page (or inside `selector`).
async function axe(page, selector = null) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (sel) => {
    const context = sel ? document.querySelector(sel) : document;
    const result = await globalThis.axe.run(context);
    // Colour contrast was really measured (a check that looks at nothing finds nothing).
    const contrast = result.passes.find((r) => r.id === 'color-contrast')?.nodes.length ?? 0;
    const found = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary}`).join(' | ')}`);
    if (contrast === 0) found.push('no text was checked for contrast');
    return found;
  }, selector);
}

// axe-core cannot enter a closed shadow root: the warning's tree and style sheet are copied
// into an open one right beside it, where they lay out and colour the same.
async function axeWarning(page, index = 0, { control = false } = {}) {
  const copy = await inWarning(page, (root) => ({
    // The warning's nodes as data (element name, namespace, attributes, children), rebuilt
    // below with DOM calls: nothing is parsed as markup.
    nodes: [...root.children].map(function tree(n) {
      if (n.nodeType === Node.TEXT_NODE) return { text: n.data };
      if (n.nodeType !== Node.ELEMENT_NODE) return null;
      return {
        tag: n.localName, ns: n.namespaceURI,
        attrs: [...n.attributes].map((a) => [a.name, a.value]),
        children: [...n.childNodes].map(tree).filter(Boolean),
      };
    }),
    css: [...root.adoptedStyleSheets].flatMap((s) => [...s.cssRules].map((r) => r.cssText)).join('\n'),
  }), null, { index });
  await page.evaluate(({ nodes, css, index: i, control: bad0 }) => {
    document.getElementById('axe-mirror')?.remove();
    const host = document.createElement('div');
    host.id = 'axe-mirror';
    host.style.position = 'relative';
    const root = host.attachShadow({ mode: 'open' });
    const build = (t) => {
      if ('text' in t) return document.createTextNode(t.text);
      const e = document.createElementNS(t.ns, t.tag);
      for (const [k, v] of t.attrs) e.setAttribute(k, v);
      e.append(...t.children.map(build));
      return e;
    };
    root.append(...nodes.map(build));
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
    if (bad0) {
      // A negative control: grey on grey, which axe-core must report.
      const bad = document.createElement('p');
      bad.textContent = 'low contrast control';
      bad.style.cssText = 'color:#777;background:#888';
      root.querySelector('.box').append(bad);
    }
    document.querySelectorAll('flagpost-warning')[i].after(host);
  }, { ...copy, index, control });
  const found = await axe(page, '#axe-mirror');
  await page.evaluate(() => document.getElementById('axe-mirror')?.remove());
  return found;
}

test('axe-core: no serious or critical violations on the popup, options, first-run, help and privacy pages, light and dark (14)', { timeout: 120000 }, async () => {
  await resetState();
  const page = await open('telegram.html');
  await markers(page);
  const tabId = await tabIdOf(`${server.origin}/telegram.html`);
  await inWarning(page, (root) => root.querySelector('button.right').click());
  await page.waitForTimeout(300);
  for (const scheme of ['light', 'dark']) {
    const popup = await openPopup(tabId);
    await popup.emulateMedia({ colorScheme: scheme });
    // A pressed mark and a focused control are part of what is checked.
    await popup.locator('#posts li').nth(0).locator('button.good').focus();
    assert.deepEqual(await axe(popup), [], `popup (${scheme})`);
    await popup.close();
    for (const p of ['extension/options/options.html', 'extension/welcome/welcome.html', 'extension/help/help.html', 'extension/privacy/privacy.html']) {
      const ext2 = await openExtensionPage(p);
      await ext2.emulateMedia({ colorScheme: scheme });
      if (p.includes('options')) {
        await ext2.locator('.pack[data-pack="e2e"] details.rule-list summary').click();
        await ext2.fill('#playground-input', 'Remember — you are an ordinary tourist. We need men aged 18-45 who are ready to go');
        await ext2.waitForSelector('#playground-verdict[data-flagged="true"]');
      }
      assert.deepEqual(await axe(ext2), [], `${p} (${scheme})`);
      await ext2.close();
    }
  }
  await page.close();
});

test('axe-core: no serious or critical violations in the warnings, light and dark, with details open and a mark pressed (14)', async () => {
  await resetState();
  for (const [name, theme] of [['x.html', 'light'], ['telegram.html', 'dark']]) {
    const page = await open(name);
    await markers(page);
    await inWarning(page, (root) => {
      root.querySelector('button.toggle').click();
      root.querySelector('button.wrong').click();
    });
    assert.equal(await inWarning(page, (root, t) => root.querySelector('.box').classList.contains(t), theme), true);
    assert.deepEqual(await axeWarning(page), [], `warning on ${name} (${theme})`);
    const control = await axeWarning(page, 0, { control: true });
    assert.ok(control.some((v) => v.startsWith('color-contrast (serious)')), `the check sees inside the copy: ${control}`);
    await page.close();
  }
  // Highlight-only mode: the button on the post and its panel.
  const { settings } = await getStorage(ext, 'settings');
  await setStorage(ext, { settings: { ...settings, mode: 'highlight' } });
  const page = await open('telegram.html');
  await markers(page);
  await inWarning(page, (root) => root.querySelector('button.chip').click());
  assert.deepEqual(await axeWarning(page), [], 'highlight-only panel');
  await page.close();
  await resetState();
});

test('Store-ready: host permissions for the supported sites only, others on request, no file:// unless asked; privacy page; Firefox declarations (14)', async () => {
  const chrome = JSON.parse(fs.readFileSync(path.join(REPO, 'dist', 'chrome', 'manifest.json'), 'utf8'));
  const firefox = JSON.parse(fs.readFileSync(path.join(REPO, 'dist', 'firefox', 'manifest.json'), 'utf8'));
  for (const m of [chrome, firefox]) {
    assert.equal(m.default_locale, 'en');
    assert.equal(m.name, '__MSG_extName__');
    assert.equal(m.description, '__MSG_extDescription__');
    const all = [...m.host_permissions, ...m.content_scripts.flatMap((c) => c.matches)];
    assert.ok(all.every((p) => /^\*:\/\/(\*\.)?(vk\.com|x\.com|twitter\.com|facebook\.com|web\.telegram\.org|t\.me|reddit\.com|mastodon\.social|mastodon\.online)\/\*$/.test(p)), all.join(' '));
    assert.ok(!JSON.stringify(m).includes('<all_urls>'));
    assert.deepEqual(m.optional_host_permissions, ['*://*/*', 'file:///*']);
    assert.deepEqual(m.permissions.sort(), ['activeTab', 'alarms', 'contextMenus', 'scripting', 'storage']);
  }
  assert.deepEqual(firefox.browser_specific_settings.gecko.data_collection_permissions, { required: ['none'] });
  // The test build reads the fixture server (127.0.0.1) and nothing else: localhost is another
  // site, not granted, and is left alone.
  const other = await ext.context.newPage();
  await other.goto(`${server.origin.replace('127.0.0.1', 'localhost')}/x.html`);
  await other.waitForTimeout(1500);
  assert.equal(await other.locator('[data-flagpost]').count(), 0);
  // Sites the user added are read only once the browser granted them.
  const w = await liveWorker(ext);
  const { settings } = await getStorage(ext, 'settings');
  await setStorage(ext, { settings: { ...settings, extraSites: ['*://localhost/*'] } });
  await other.waitForTimeout(500);
  assert.deepEqual(await w.evaluate(() => chrome.scripting.getRegisteredContentScripts()), []);
  await setStorage(ext, { settings: { ...settings, extraSites: ['*://localhost/*', 'http://127.0.0.1/*'] } });
  const registered = await eventually(() => w.evaluate(() => chrome.scripting.getRegisteredContentScripts()), (r) => r.length === 2);
  assert.deepEqual(registered.map((s) => [s.id, s.matches]), [['flagpost-start', ['http://127.0.0.1/*']], ['flagpost-main', ['http://127.0.0.1/*']]]);
  await setStorage(ext, { settings });
  // The popup on a site Flagpost does not read says so. (Opened from the toolbar, activeTab lets
  // it see the tab's address and offer to ask the browser for that site alone; a test cannot
  // click the toolbar, so that offer is not exercised here.)
  const popup = await openPopup(await tabIdOf(`${server.origin.replace('127.0.0.1', 'localhost')}/x.html`));
  assert.equal(await popup.locator('#summary').textContent(), 'Flagpost does not run on this page.');
  await popup.close();
  await other.close();
  // The privacy page, linked from the popup and the options.
  const privacy = await openExtensionPage('extension/privacy/privacy.html');
  assert.match(await privacy.locator('main').innerText(), /collects no data[\s\S]*What it sends[\s\S]*Nothing\./);
  await privacy.close();
  const options = await openExtensionPage('extension/options/options.html');
  assert.equal(await options.locator('footer a[href="../privacy/privacy.html"]').count(), 1);
  await options.close();
});
