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
