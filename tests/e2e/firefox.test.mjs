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
});

test('firefox-esr: the built add-on installs and flags real posts with the shipped pack', { timeout: 90000 }, async () => {
  assert.ok(which('geckodriver'), 'geckodriver is installed');
  assert.ok(fs.existsSync(ZIP), 'dist/flagpost-firefox.zip is built');
  const created = await wd('POST', '/session', {
    capabilities: {
      alwaysMatch: {
        browserName: 'firefox',
        'moz:firefoxOptions': {
          binary: which('firefox-esr') || which('firefox'),
          args: ['-headless', '-profile', profile],
          prefs: {
            'app.update.enabled': false,
            'browser.shell.checkDefaultBrowser': false,
            'datareporting.policy.dataSubmissionEnabled': false,
            'toolkit.telemetry.enabled': false,
            'extensions.getAddons.cache.enabled': false,
            'browser.safebrowsing.malware.enabled': false,
            'browser.safebrowsing.phishing.enabled': false,
            'network.captive-portal-service.enabled': false,
          },
        },
      },
    },
  });
  session = created.sessionId;
  const addonId = await wd('POST', `/session/${session}/moz/addon/install`, {
    addon: fs.readFileSync(ZIP).toString('base64'),
    temporary: true,
  });
  assert.equal(addonId, 'flagpost@flagpost.org');
  await wd('POST', `/session/${session}/url`, { url: `${server.origin}/mastodon.html` });
  let result = null;
  const until = Date.now() + 30000;
  while (Date.now() < until) {
    result = await wd('POST', `/session/${session}/execute/sync`, {
      script: `return [...document.querySelectorAll('[data-expect]')].map((p) => ({
        expect: p.dataset.expect, got: p.dataset.flagpost || '',
        warnings: p.querySelectorAll('flagpost-warning').length,
        shadow: !!p.querySelector('flagpost-warning')?.shadowRoot }));`,
      args: [],
    });
    if (result.length && result.every((r) => r.got)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(result.every((r) => r.got), `every post got a marker: ${JSON.stringify(result)}`);
  for (const r of result) {
    assert.equal(r.got, r.expect);
    assert.equal(r.warnings, r.expect === 'flagged' ? 1 : 0);
  }
  assert.equal(result.filter((r) => r.got === 'flagged').length, 4);
  assert.ok(result.filter((r) => r.got === 'flagged').every((r) => r.shadow));
});
