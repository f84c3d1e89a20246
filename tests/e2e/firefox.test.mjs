// Firefox: `web-ext lint` on dist/firefox, and a smoke test that installs the built add-on
// into headless firefox-esr through geckodriver and sees posts flagged on a fixture page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../server.mjs';
import { REPO } from '../harness.mjs';

const DIST = path.join(REPO, 'dist', 'firefox'); // the build users install
const ZIP = path.join(REPO, 'dist', 'test-markers', 'flagpost-firefox.zip'); // the test build, with page markers
const USER_ZIP = path.join(REPO, 'dist', 'flagpost-firefox.zip');

function which(cmd) {
  try {
    return execSync(`command -v ${cmd}`, { shell: '/bin/bash' }).toString().trim();
  } catch {
    return '';
  }
}

test('web-ext lint: no errors, no warnings', () => {
  const out = execFileSync(path.join(REPO, 'node_modules', '.bin', 'web-ext'),
    ['lint', '--source-dir', DIST, '--output', 'json', '--no-config-discovery'], { encoding: 'utf8' });
  const report = JSON.parse(out.slice(out.indexOf('{')));
  const problems = [...report.errors, ...report.warnings].map((m) => `${m.code} ${m.file ?? ''}: ${m.message}`);
  assert.deepEqual(problems, []);
  assert.equal(report.summary.errors, 0);
});

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let driver;
let server;
let base;
let session;
let profile;
let userProfile;

async function wd(method, url, body) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${url}: ${JSON.stringify(json.value ?? json).slice(0, 400)}`);
  return json.value;
}

before(async () => {
  server = await startServer();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-firefox-'));
  driver = spawn(which('geckodriver'), ['--port', String(port), '--host', '127.0.0.1'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${base}/status`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

after(async () => {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  driver?.kill();
  await server?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (userProfile) fs.rmSync(userProfile, { recursive: true, force: true });
});

async function newSession(zip, dir, extraPrefs = {}) {
  const created = await wd('POST', '/session', {
    capabilities: {
      alwaysMatch: {
        browserName: 'firefox',
        'moz:firefoxOptions': {
          binary: which('firefox-esr') || which('firefox'),
          args: ['-headless', '-profile', dir],
          prefs: {
            'app.update.enabled': false,
            'browser.shell.checkDefaultBrowser': false,
            'datareporting.policy.dataSubmissionEnabled': false,
            'toolkit.telemetry.enabled': false,
            'extensions.getAddons.cache.enabled': false,
            'browser.safebrowsing.malware.enabled': false,
            'browser.safebrowsing.phishing.enabled': false,
            'network.captive-portal-service.enabled': false,
            'dom.security.https_first': false,
            'dom.security.https_first_schemeless': false,
            'intl.locale.requested': 'en-US',
            ...extraPrefs,
          },
        },
      },
    },
  });
  const id = created.sessionId;
  const addonId = await wd('POST', `/session/${id}/moz/addon/install`, {
    addon: fs.readFileSync(zip).toString('base64'),
    temporary: true,
  });
  assert.equal(addonId, 'flagpost@flagpost.org');
  return id;
}

const run = (id, script) => wd('POST', `/session/${id}/execute/sync`, { script, args: [] });

// Polls `script` in the page until it returns a truthy value (or time runs out).
async function until(id, script, ms = 30000) {
  const end = Date.now() + ms;
  let result = null;
  while (Date.now() < end) {
    result = await run(id, script);
    if (result) return result;
    await new Promise((r) => setTimeout(r, 250));
  }
  return result;
}

// Each post with its marker (test build) and its warning host: closed shadow root, size, style.
const READ_POSTS = `return [...document.querySelectorAll('[data-expect]')].map((p) => {
  const w = p.querySelector('flagpost-warning');
  let closed = false;
  if (w) { try { w.attachShadow({ mode: 'open' }); } catch { closed = w.shadowRoot === null; } }
  return { id: p.id, expect: p.dataset.expect, got: p.dataset.flagpost || '', rules: p.dataset.flagpostRules || '',
    expectRules: p.dataset.expectRules || '', warnings: p.querySelectorAll('flagpost-warning').length, closed,
    height: w ? w.getBoundingClientRect().height : 0, display: w ? getComputedStyle(w).display : '' };
});`;

test('firefox-esr: the built add-on installs and flags real posts with the shipped pack', { timeout: 90000 }, async () => {
  assert.ok(which('geckodriver'), 'geckodriver is installed');
  assert.ok(fs.existsSync(ZIP), 'dist/test-markers/flagpost-firefox.zip is built (FLAGPOST_TEST_MARKERS=1)');
  session = await newSession(ZIP, profile);
  await wd('POST', `/session/${session}/url`, { url: `${server.origin}/mastodon.html` });
  await until(session, `${READ_POSTS.replace(/^return /, 'const list = ')} return list.length && list.every((r) => r.got) ? list : null;`);
  const result = await run(session, READ_POSTS);
  assert.ok(result.every((r) => r.got), `every post got a marker: ${JSON.stringify(result)}`);
  for (const r of result) {
    assert.equal(r.got, r.expect);
    assert.equal(r.warnings, r.expect === 'flagged' ? 1 : 0);
  }
  const flagged = result.filter((r) => r.got === 'flagged');
  assert.equal(flagged.length, 4);
  assert.ok(flagged.every((r) => r.closed && r.height > 20), JSON.stringify(flagged));
});

test('firefox-esr (shipped pack): named elements and a page\'s own <flagpost-warning> neither switch Flagpost off nor hide its warnings (8.1, 8.2)', { timeout: 90000 }, async () => {
  assert.ok(session, 'the add-on is installed');
  await wd('POST', `/session/${session}/url`, { url: `${server.origin}/hostile.html` });
  const result = await until(session, `${READ_POSTS.replace(/^return /, 'const list = ')} return list.every((r) => r.got) ? list : null;`);
  assert.ok(result, 'every post got a marker');
  for (const r of result) {
    assert.equal(r.got, r.expect, r.id);
    assert.equal(r.warnings, r.expect === 'flagged' ? 1 : 0, r.id);
    if (r.expect === 'flagged') {
      assert.ok(r.closed, `${r.id}: closed shadow root, not the page's`);
      assert.equal(r.display, 'block', `${r.id}: page CSS does not hide it`);
      assert.ok(r.height > 20, `${r.id}: warning height ${r.height}`);
    }
  }
  const log = await run(session, 'return window.pageLog;');
  assert.ok(!log.includes('constructor took the shadow root'), `page log: ${log}`);
  assert.equal(await run(session, 'return window.tamper();'), 3);
  const back = await until(session, `const hosts = [...document.querySelectorAll('flagpost-warning')];
    return hosts.length === 3 && hosts.every((h) => h.getBoundingClientRect().height > 20 && h.getAttributeNames().join() === 'style') ? hosts.length : null;`, 10000);
  assert.equal(back, 3, 'warnings put back after the page hid and removed them');
});

test('firefox-esr, the build users install: the page sees no markers, names or classes, and cannot hide the warnings (8.4)', { timeout: 90000 }, async () => {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  session = null;
  userProfile = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-firefox-user-'));
  // The build users install reads the supported sites only: the fixture server is reached under
  // the name of one (mastodon.online), through itself as the browser's HTTP proxy.
  session = await newSession(USER_ZIP, userProfile, {
    'network.proxy.type': 1, 'network.proxy.http': '127.0.0.1', 'network.proxy.http_port': Number(new URL(server.origin).port),
    'network.proxy.allow_hijacking_localhost': true,
  });
  await wd('POST', `/session/${session}/url`, { url: 'http://mastodon.online/hostile.html' });
  const strangers = await until(session, `const s = window.strangers(); return s.length === 3 ? s.map((e) => e.closest('article').id) : null;`);
  assert.deepEqual(strangers, ['h1', 'h3', 'h4']);
  const seen = await run(session, `const all = [...document.querySelectorAll('*')];
    return {
      attributes: all.flatMap((e) => e.getAttributeNames().filter((a) => /flagpost/i.test(a))),
      elements: all.filter((e) => /flagpost/i.test(e.localName)).length,
      classes: all.filter((e) => /flagpost/i.test(String(e.className))).length,
      strangers: window.strangers().map((e) => {
        let closed = false;
        try { e.attachShadow({ mode: 'open' }); } catch { closed = e.shadowRoot === null; }
        return { tag: e.localName, attributes: e.getAttributeNames(), closed, height: e.getBoundingClientRect().height,
          display: getComputedStyle(e).display, text: e.textContent };
      }),
    };`);
  assert.deepEqual(seen.attributes, []);
  assert.equal(seen.elements, 0);
  assert.equal(seen.classes, 0);
  for (const s of seen.strangers) {
    assert.deepEqual({ tag: s.tag, attributes: s.attributes, closed: s.closed, display: s.display, text: s.text },
      { tag: 'div', attributes: ['style'], closed: true, display: 'block', text: '' });
    assert.ok(s.height > 20, `warning height ${s.height}`);
  }
});

// ---- issue 8, items 9 and 10: their language, feedback on the post ----

const UUID = '6c0b7e2a-8f1d-4c3e-9a55-1f2e3d4c5b6a';
const catalog = (lang) => JSON.parse(fs.readFileSync(path.join(REPO, '_locales', lang, 'messages.json'), 'utf8'));
let langSession = null;
let langProfile = null;
let welcomeHandle = null;
let pageHandle = null;

// The element a CSS selector finds inside the closed shadow root of the index-th warning
// (WebDriver reaches closed shadow roots; a page cannot).
// A warning redrawn in between (a new language, a new verdict) is looked up again.
async function inWarningFF(id, selector, index = 0) {
  for (let attempt = 0; ; attempt++) {
    try {
      const hosts = await wd('POST', `/session/${id}/elements`, { using: 'css selector', value: 'flagpost-warning' });
      const host = Object.values(hosts[index])[0];
      const root = Object.values(await wd('GET', `/session/${id}/element/${host}/shadow`))[0];
      const found = await wd('POST', `/session/${id}/shadow/${root}/elements`, { using: 'css selector', value: selector });
      return found.map((e) => Object.values(e)[0]);
    } catch (e) {
      if (attempt >= 10 || !/detached|stale/i.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
const textOf = (id, el) => wd('GET', `/session/${id}/element/${el}/text`);
const attrOf = (id, el, name) => wd('GET', `/session/${id}/element/${el}/attribute/${name}`);

async function storedInFirefox(id, key) {
  await wd('POST', `/session/${id}/window`, { handle: welcomeHandle });
  const value = await wd('POST', `/session/${id}/execute/async`, {
    script: 'const [key, done] = arguments; browser.storage.local.get(key).then((v) => done(JSON.stringify(v[key] ?? null)), (e) => done("error " + e));',
    args: [key],
  });
  await wd('POST', `/session/${id}/window`, { handle: pageHandle });
  return JSON.parse(value);
}

test('firefox-esr in Ukrainian: the first-run page and the warnings follow the browser; Russian chosen on the first-run page (9)', { timeout: 90000 }, async () => {
  const uk = catalog('uk');
  const ru = catalog('ru');
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  session = null;
  langProfile = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-firefox-uk-'));
  langSession = await newSession(ZIP, langProfile, {
    'intl.locale.requested': 'uk',
    'extensions.webextensions.uuids': JSON.stringify({ 'flagpost@flagpost.org': UUID }),
  });
  const id = langSession;
  // The first-run page opened on install, in Ukrainian.
  const handles = await (async () => {
    const end = Date.now() + 30000;
    while (Date.now() < end) {
      const list = await wd('GET', `/session/${id}/window/handles`);
      if (list.length > 1) return list;
      await new Promise((r) => setTimeout(r, 200));
    }
    return [];
  })();
  for (const h of handles) {
    await wd('POST', `/session/${id}/window`, { handle: h });
    const url = await wd('GET', `/session/${id}/url`);
    if (url === `moz-extension://${UUID}/extension/welcome/welcome.html`) welcomeHandle = h;
    else pageHandle = h;
  }
  assert.ok(welcomeHandle && pageHandle, 'the first-run page opened in a tab of its own');
  await wd('POST', `/session/${id}/window`, { handle: welcomeHandle });
  await until(id, 'return document.body.dataset.ready === "true"');
  assert.deepEqual(await run(id, 'return [document.documentElement.lang, document.querySelector("h1").textContent]'), ['uk', uk.welTitle.message]);

  // Warnings on a page, in Ukrainian (the shipped pack: its categories translated).
  await wd('POST', `/session/${id}/window`, { handle: pageHandle });
  await wd('POST', `/session/${id}/url`, { url: `${server.origin}/mastodon.html` });
  await until(id, `const posts = [...document.querySelectorAll('[data-expect]')];
    return posts.every((p) => p.dataset.flagpost) && document.querySelectorAll('flagpost-warning').length === document.querySelectorAll('[data-flagpost=flagged]').length && document.querySelectorAll('flagpost-warning').length >= 3`);
  const title = await textOf(id, (await inWarningFF(id, '.title'))[0]);
  const ukCategories = Object.entries(uk).filter(([k]) => k.startsWith('cat_')).map(([, v]) => v.message);
  assert.ok(ukCategories.some((c) => title.includes(c)), title);
  const why = await textOf(id, (await inWarningFF(id, 'button.toggle'))[0]);
  assert.equal(why, uk.w_why.message);

  // Russian, chosen on the first-run page: the open page's warnings are redrawn in Russian.
  await wd('POST', `/session/${id}/window`, { handle: welcomeHandle });
  const option = await wd('POST', `/session/${id}/element`, { using: 'css selector', value: '#language option[value="ru"]' });
  await wd('POST', `/session/${id}/element/${Object.values(option)[0]}/click`, {});
  await until(id, 'return document.documentElement.lang === "ru"');
  assert.equal(await run(id, 'return document.querySelector("h1").textContent'), ru.welTitle.message);
  await wd('POST', `/session/${id}/window`, { handle: pageHandle });
  const end = Date.now() + 10000;
  let text = '';
  while (Date.now() < end) {
    text = await textOf(id, (await inWarningFF(id, 'button.toggle'))[0]).catch(() => '');
    if (text === ru.w_why.message) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(text, ru.w_why.message);
});

test('firefox-esr: right and wrong flag on the warning are stored and shown after a reload; a dismissal stays, with undo (10)', { timeout: 90000 }, async () => {
  assert.ok(langSession, 'the add-on is installed');
  const id = langSession;
  const ru = catalog('ru');
  await new Promise((r) => setTimeout(r, 500));
  await wd('POST', `/session/${id}/element/${(await inWarningFF(id, 'button.right', 0))[0]}/click`, {});
  await wd('POST', `/session/${id}/element/${(await inWarningFF(id, 'button.wrong', 1))[0]}/click`, {});
  await new Promise((r) => setTimeout(r, 500));
  const marks = Object.values(await storedInFirefox(id, 'marks') ?? {}).sort((a, b) => a.time - b.time);
  assert.deepEqual(marks.map((m) => [m.label, m.url]), [[true, `${server.origin}/mastodon.html`], [false, `${server.origin}/mastodon.html`]]);
  assert.ok(marks.every((m) => m.text.length > 20 && m.rules.length > 0));
  // After a reload the warnings show the marks (they come back from the background).
  const warnings = await run(id, 'return document.querySelectorAll("flagpost-warning").length');
  await wd('POST', `/session/${id}/refresh`, {});
  await until(id, `return document.querySelectorAll("flagpost-warning").length === ${warnings}`);
  assert.equal(await attrOf(id, (await inWarningFF(id, 'button.right', 0))[0], 'aria-pressed'), 'true');
  assert.equal(await attrOf(id, (await inWarningFF(id, 'button.wrong', 1))[0], 'aria-pressed'), 'true');
  // Dismiss the third warning: an undo takes its place and the focus; after a reload it stays dismissed.
  await wd('POST', `/session/${id}/element/${(await inWarningFF(id, 'button.dismiss', 2))[0]}/click`, {});
  await until(id, `return document.querySelectorAll("flagpost-warning").length === ${warnings - 1} && document.querySelectorAll("flagpost-notice").length === 1`);
  assert.equal(await run(id, 'return document.activeElement.localName'), 'flagpost-notice');
  const notice = Object.values(await wd('POST', `/session/${id}/element`, { using: 'css selector', value: 'flagpost-notice' }))[0];
  const noticeRoot = Object.values(await wd('GET', `/session/${id}/element/${notice}/shadow`))[0];
  const undo = Object.values(await wd('POST', `/session/${id}/shadow/${noticeRoot}/element`, { using: 'css selector', value: 'button' }))[0];
  assert.equal(await textOf(id, undo), ru.w_undo.message);
  await wd('POST', `/session/${id}/refresh`, {});
  await until(id, `return document.querySelectorAll("[data-flagpost=flagged]").length === ${warnings}`);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await run(id, 'return document.querySelectorAll("flagpost-warning").length'), warnings - 1);
  assert.equal(Object.keys(await storedInFirefox(id, 'dismissed') ?? {}).length, 1);
});

test('firefox-esr: "Flag this post" from a right-click marks a missed post, and Undo takes it back (10)', { timeout: 90000 }, async () => {
  assert.ok(langSession, 'the add-on is installed');
  const id = langSession;
  await wd('POST', `/session/${id}/url`, { url: `${server.origin}/mastodon.html` });
  await until(id, 'return document.querySelectorAll("[data-flagpost]").length === document.querySelectorAll("[data-expect]").length');
  // The reader right-clicks a post's text (a trusted event, as from the mouse) …
  const post = Object.values(await wd('POST', `/session/${id}/element`, { using: 'css selector', value: '[data-id="110001"] .status__content' }))[0];
  await wd('POST', `/session/${id}/actions`, { actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions: [
    { type: 'pointerMove', origin: { 'element-6066-11e4-a52e-4f735466cecf': post }, x: 0, y: 0 },
    { type: 'pointerDown', button: 2 }, { type: 'pointerUp', button: 2 },
  ] }] });
  await wd('DELETE', `/session/${id}/actions`);
  // … and chooses the menu entry, whose handler the background runs.
  await wd('POST', `/session/${id}/window`, { handle: welcomeHandle });
  const result = await wd('POST', `/session/${id}/execute/async`, {
    script: `const [url, done] = arguments;
      (async () => {
        const tab = (await browser.tabs.query({})).find((t) => t.url === url);
        const bg = await browser.runtime.getBackgroundPage();
        return bg.flagpostTest.menuClicked({ menuItemId: 'flag-post', frameId: 0 }, { id: tab.id });
      })().then((r) => done(JSON.stringify(r)), (e) => done('error ' + e));`,
    args: [`${server.origin}/mastodon.html`],
  });
  await wd('POST', `/session/${id}/window`, { handle: pageHandle });
  assert.ok(!result.startsWith('error'), result);
  assert.deepEqual(JSON.parse(result), { ok: true, flagged: false });
  await until(id, 'return document.querySelector("[data-id=\'110001\'] flagpost-notice")');
  let marks = Object.values(await storedInFirefox(id, 'marks') ?? {});
  const missed = marks.filter((m) => m.missed);
  assert.equal(missed.length, 1);
  assert.equal(missed[0].label, true);
  assert.match(missed[0].text, /\S{10}/);
  // Undo (it has the focus): the mark is taken back.
  assert.equal(await run(id, 'return document.activeElement.localName'), 'flagpost-notice');
  const notice = Object.values(await wd('POST', `/session/${id}/element`, { using: 'css selector', value: '[data-id="110001"] flagpost-notice' }))[0];
  const root = Object.values(await wd('GET', `/session/${id}/element/${notice}/shadow`))[0];
  const undo = Object.values(await wd('POST', `/session/${id}/shadow/${root}/element`, { using: 'css selector', value: 'button' }))[0];
  await wd('POST', `/session/${id}/element/${undo}/click`, {});
  await new Promise((r) => setTimeout(r, 500));
  marks = Object.values(await storedInFirefox(id, 'marks') ?? {});
  assert.equal(marks.filter((m) => m.missed).length, 0);
});

test('firefox-esr: cleanup', async () => {
  if (langSession) await wd('DELETE', `/session/${langSession}`).catch(() => {});
  langSession = null;
  if (langProfile) fs.rmSync(langProfile, { recursive: true, force: true });
});
