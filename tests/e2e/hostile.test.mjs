// End-to-end tests in headless Chromium for pages that fight back (issue 8): a page cannot
// switch Flagpost off, hijack or hide its warnings, or read what it found; content scripts
// cannot reach storage; one tab cannot starve another; text a site hides from the scanner is
// read as a reader sees it; one bad pack does not take the others down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../server.mjs';
import {
  launchWithExtension, liveWorker, stopWorker, useTestPack, setStorage, getStorage, markers, readPack, inWarning, inShadow,
  inContentScript, DIST_CHROME_USER, SUPPORTED_HOST, MAP_SUPPORTED_HOST,
} from '../harness.mjs';

let server;
let ext;

before(async () => {
  server = await startServer();
  ext = await launchWithExtension();
  await useTestPack(ext);
});

after(async () => {
  await ext?.close();
  await server?.close();
});

async function open(name, context = ext.context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(`${server.origin}/${name}`);
  return page;
}

function assertExpected(list) {
  assert.ok(list.length > 0, 'fixture has posts');
  for (const m of list) {
    assert.equal(m.got, m.expect, `post ${m.id}: expected ${m.expect}, got ${m.got}`);
    if (m.expect === 'flagged') assert.deepEqual(m.rules, m.expectRules, `post ${m.id}: rules`);
    assert.equal(m.warnings, m.expect === 'flagged' ? 1 : 0, `post ${m.id}: warnings`);
  }
}

// Geometry and computed style of each warning host, as the page lays it out.
function hostBoxes(page) {
  return page.locator('flagpost-warning').evaluateAll((hosts) => hosts.map((h) => {
    const r = h.getBoundingClientRect();
    const cs = getComputedStyle(h);
    return { height: r.height, width: r.width, display: cs.display, visibility: cs.visibility, opacity: cs.opacity, attributes: h.getAttributeNames() };
  }));
}

test('Named elements for every name the content scripts use do not switch Flagpost off (8.1)', async () => {
  const page = await open('hostile.html');
  // The page's named elements are visible in the content script's world (so the fixture bites) …
  const seen = await inContentScript(page, 'String(globalThis.__flagpostContentLoaded) + " " + String(globalThis.flagpostBuild) + " " + String(globalThis.api)');
  assert.equal(seen.value, '[object HTMLDivElement] [object HTMLCollection] [object HTMLDivElement]');
  // … and every post is still scanned.
  assertExpected(await markers(page));
  await page.close();
});

test('A page\'s own <flagpost-warning> element cannot take over, hide or suppress warnings (8.2)', async () => {
  const page = await open('hostile.html');
  assertExpected(await markers(page));
  // The page's constructor ran on upgrade but could not take the shadow root, and every post
  // of the batch after it was still marked.
  const log = await page.evaluate(() => window.pageLog);
  assert.ok(log.includes('constructor: NotSupportedError'), `page log: ${log}`);
  assert.ok(!log.includes('constructor took the shadow root'));
  // The page's CSS (flagpost-warning {display:none !important}, [style], [hidden], :empty …)
  // and its constructor's own styles do not hide the warnings.
  for (const box of await hostBoxes(page)) {
    assert.equal(box.display, 'block');
    assert.equal(box.visibility, 'visible');
    assert.equal(box.opacity, '1');
    assert.ok(box.height > 20 && box.width > 100, `warning size ${box.width}×${box.height}`);
    assert.deepEqual(box.attributes, ['style']);
  }
  const inside = await inWarning(page, (root) => {
    const b = root.querySelector('.box');
    const cs = getComputedStyle(b);
    return { title: root.querySelector('.title').textContent, bg: cs.backgroundColor, color: cs.color };
  });
  assert.match(inside.title, /Call to travel/);
  assert.notEqual(inside.bg, 'rgba(0, 0, 0, 0)', 'page custom properties do not reach the warning');
  assert.notEqual(inside.color, 'rgba(0, 0, 0, 0)');

  // A script that hides every element it did not make, and removes one: put back.
  assert.equal(await page.evaluate(() => window.tamper()), 3);
  await page.waitForFunction(() => document.querySelectorAll('flagpost-warning').length === 3);
  for (const box of await hostBoxes(page)) {
    assert.equal(box.display, 'block');
    assert.ok(box.height > 20, `warning height ${box.height} after tampering`);
    assert.deepEqual(box.attributes, ['style']);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('The build users install: a page can see none of what Flagpost found, and cannot hide its warnings (8.4)', async () => {
  const user = await launchWithExtension(DIST_CHROME_USER, { args: [MAP_SUPPORTED_HOST] });
  try {
    await useTestPack(user);
    // Served under the name of a supported site: the build users install reads no other site.
    const page = await user.context.newPage();
    page.errors = [];
    await page.goto(`${server.origin.replace('127.0.0.1', SUPPORTED_HOST)}/hostile.html`);
    // What the page's own elements carry as served.
    const before = await page.evaluate(async () => {
      const served = new DOMParser().parseFromString(await (await fetch(location.href)).text(), 'text/html');
      return {
        sheets: served.querySelectorAll('link[rel="stylesheet"], style').length,
        attributes: [...served.querySelectorAll('article, article *')].map((e) => e.getAttributeNames().join(' ')),
      };
    });
    // The warnings are there: three elements the page did not make, one before each flagged post's text.
    await page.waitForFunction(() => window.strangers().length === 3, null, { timeout: 10000 });
    await page.waitForTimeout(300);
    const seen = await page.evaluate(() => {
      const all = [...document.querySelectorAll('*')];
      const strangers = window.strangers();
      return {
        strangers: strangers.map((e) => ({
          tag: e.localName, attributes: e.getAttributeNames(), classes: e.className, open: e.shadowRoot,
          next: e.nextElementSibling?.className, post: e.closest('article').id,
          rect: e.getBoundingClientRect().height, display: getComputedStyle(e).display,
          canAttach: (() => { try { e.attachShadow({ mode: 'open' }); return true; } catch { return false; } })(),
          lightText: e.textContent,
        })),
        flagpostAttributes: all.flatMap((e) => e.getAttributeNames().filter((a) => /flagpost/i.test(a))),
        flagpostElements: all.filter((e) => /flagpost/i.test(e.localName)).length,
        flagpostClasses: all.filter((e) => /flagpost/i.test(String(e.className))).length,
        highlights: CSS.highlights.size,
        adopted: document.adoptedStyleSheets.length,
        sheets: document.styleSheets.length,
        bodyText: document.body.innerText.includes('Flagpost') || document.body.innerText.includes('Why?'),
        attributes: [...document.querySelectorAll('article, article *')].filter((e) => !strangers.includes(e)).map((e) => e.getAttributeNames().join(' ')),
        // CSS probes: rules of the extension that would style a page's own elements.
        probes: (() => {
          const probe = document.createElement('div');
          probe.className = 'probe';
          document.body.append(probe);
          const out = [];
          for (const [name, value] of [['data-flagpost-blur', ''], ['data-flagpost-outline', ''], ['data-flagpost', 'flagged']]) {
            probe.setAttribute(name, value);
            const cs = getComputedStyle(probe);
            out.push(`${cs.filter}|${cs.outlineStyle}|${cs.cursor}`);
            probe.removeAttribute(name);
          }
          const custom = document.createElement('flagpost-warning');
          document.body.append(custom);
          out.push(getComputedStyle(custom).display);
          probe.remove();
          custom.remove();
          return out;
        })(),
      };
    });
    assert.deepEqual(seen.flagpostAttributes, []);
    assert.equal(seen.flagpostElements, 0);
    assert.equal(seen.flagpostClasses, 0);
    assert.equal(seen.highlights, 0);
    assert.equal(seen.adopted, 0);
    assert.equal(seen.sheets, before.sheets, 'no style sheet added to the page');
    assert.equal(seen.bodyText, false);
    assert.deepEqual(seen.attributes, before.attributes, 'posts carry no marker');
    // Only the page's own hostile rule applies to <flagpost-warning>; no rule of ours exists.
    assert.deepEqual(seen.probes, ['none|none|auto', 'none|none|auto', 'none|none|auto', 'none']);
    assert.deepEqual(seen.strangers.map((s) => s.post), ['h1', 'h3', 'h4']);
    for (const s of seen.strangers) {
      assert.equal(s.tag, 'div');
      assert.deepEqual(s.attributes, ['style']);
      assert.equal(s.classes, '');
      assert.equal(s.open, null, 'closed shadow root');
      assert.equal(s.canAttach, false, 'it has a shadow root, closed');
      assert.equal(s.lightText, '');
      assert.equal(s.next, 'post-text');
      assert.equal(s.display, 'block', 'page CSS cannot hide it');
      assert.ok(s.rect > 20, `warning height ${s.rect}`);
    }
    const inside = await inShadow(page, `window.strangers()[0]`, (root) => ({
      title: root.querySelector('.title')?.textContent, visible: root.querySelector('.box')?.checkVisibility(),
    }));
    assert.equal(inside.mode, 'closed');
    assert.deepEqual(inside.value, { title: '⚑ Call to travel and join an armed group', visible: true });
    await page.close();
  } finally {
    await user.close();
  }
});

test('Content scripts cannot read or write storage; they get their settings over the port (8.5)', async () => {
  const page = await open('x.html');
  await markers(page);
  const read = await inContentScript(page, `chrome.storage.local.get(null).then((v) => 'read ' + Object.keys(v).join(','), (e) => 'refused: ' + e.message)`);
  const write = await inContentScript(page, `chrome.storage.local.set({ injected: 1 }).then(() => 'written', (e) => 'refused: ' + e.message)`);
  assert.match(read.value ?? read.error, /refused|not allowed|undefined|Cannot read/i, JSON.stringify(read));
  assert.match(write.value ?? write.error, /refused|not allowed|undefined|Cannot read/i, JSON.stringify(write));
  assert.equal((await getStorage(ext, 'injected')).injected, undefined);
  // The extension's own pages still can.
  assert.ok((await getStorage(ext, 'userPacks')).userPacks.length >= 1);
  await page.close();
});

test('One tab sending 12 × 500 × 65k-character batches does not hold up another tab\'s verdicts (8.5)', { timeout: 120000 }, async () => {
  const flood = await open('feed.html');
  await markers(flood);
  const page = await open('x.html');
  await markers(page);
  // From the first tab's content-script world: a port like the content script's, flooded.
  const sent = await inContentScript(flood, `(() => {
    const port = chrome.runtime.connect({ name: 'flagpost' });
    const text = 'We need men aged 18-45 who are ready to go. '.repeat(1500).slice(0, 65000);
    const texts = new Array(500).fill(text);
    let answered = 0;
    port.onMessage.addListener((m) => { if (m.type === 'verdicts') answered++; });
    globalThis.floodAnswers = () => answered;
    for (let id = 1; id <= 12; id++) port.postMessage({ type: 'scan', id: 1000 + id, texts });
    return 12;
  })()`);
  assert.equal(sent.value, 12);
  await page.waitForTimeout(200); // the flood is being scanned now
  const t0 = Date.now();
  assert.equal(await page.evaluate(() => window.appendTweets()), 4);
  await page.waitForFunction(() => [...document.querySelectorAll('article[data-appended]')].every((a) => a.dataset.flagpost), null, { timeout: 20000 });
  const waited = Date.now() - t0;
  const floodDone = (await inContentScript(flood, 'globalThis.floodAnswers()')).value;
  assert.ok(floodDone < 12, `the flood was still being scanned (${floodDone} of 12 answered)`);
  assert.ok(waited < 1500, `the other tab waited ${waited} ms for its verdicts`);
  await flood.close();
  await page.close();
});

test('Text a site hides from the scanner is read as a reader sees it (8.8)', async () => {
  const page = await open('hidden-text.html');
  // Posts in the light DOM, in a shadow root and in a same-origin frame.
  const read = async (locator) => {
    await locator.first().waitFor();
    const until = Date.now() + 10000;
    let list = [];
    while (Date.now() < until) {
      list = await locator.evaluateAll((posts) => posts.map((p) => ({
        id: p.id, expect: p.dataset.expect, got: p.dataset.flagpost ?? '',
        rules: (p.dataset.flagpostRules ?? '').split(' ').filter(Boolean).sort(),
        expectRules: (p.dataset.expectRules ?? '').split(' ').filter(Boolean).sort(),
      })));
      if (list.length && list.every((m) => m.got)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return list;
  };
  const light = await read(page.locator('main > article, footer .comment'));
  const shadowed = await read(page.locator('shadow-feed article'));
  const framed = await read(page.frameLocator('.posts-frame').locator('article'));
  const all = [...light, ...shadowed, ...framed];
  assert.equal(all.length, 16);
  for (const m of all) {
    assert.equal(m.got, m.expect, `${m.id}: expected ${m.expect}, got ${m.got || 'no marker'}`);
    if (m.expect === 'flagged') assert.deepEqual(m.rules, m.expectRules, `${m.id}: rules`);
  }
  // Warnings are drawn in the shadow root and the frame too.
  assert.equal(await page.locator('shadow-feed flagpost-warning').count(), 1);
  assert.equal(await page.frameLocator('.posts-frame').locator('flagpost-warning').count(), 1);
  // New posts in the shadow root are picked up as they come.
  await page.evaluate(() => {
    const root = document.querySelector('shadow-feed').shadowRoot;
    const a = document.createElement('article');
    a.className = 'post';
    a.id = 'in-shadow-late';
    a.textContent = '"We need men aged 18-45 who are in Ukraine or are ready to go,"';
    root.append(a);
  });
  await page.waitForFunction(() => document.querySelector('shadow-feed').shadowRoot.getElementById('in-shadow-late').dataset.flagpost === 'flagged');
  assert.deepEqual(page.errors, []);
  await page.close();
});

function limitPack(id, regexes) {
  const rules = [];
  for (let r = 0; r < regexes / 100; r++) {
    const any = [];
    for (let i = 0; i < 100; i++) any.push(`{ regex = "q${id}z${r}x${i}[0-9]{2}" }`);
    rules.push(`[[rules]]\nid = "r${r}"\ncategory = "test"\nseverity = "low"\nweight = 1.0\ndescription = "limit test"\ncondition = { any = [${any.join(', ')}] }\n`);
  }
  return `# Written for the tests: many regexes, to reach the engine's limit beside another such pack.\nid = "${id}"\nname = "Limit ${id}"\nversion = "1.0.0"\nlicense = "CC0-1.0"\nthreshold = 1.0\n\n${rules.join('\n')}`;
}

test('A broken imported pack does not drop the others after a worker restart; what failed is shown (8.6)', async () => {
  const saved = await getStorage(ext, null);
  try {
    const broken = readPack('broken.toml').replace('id = "e2e"', 'id = "e2e-broken"');
    await setStorage(ext, {
      userPacks: [
        { name: 'test-recruitment.toml', source: readPack('test-recruitment.toml'), importedAt: 1 },
        { name: 'broken.toml', source: broken, importedAt: 2 },
        { name: 'limit-a.toml', source: limitPack('limita', 1100), importedAt: 3 },
        { name: 'limit-b.toml', source: limitPack('limitb', 1100), importedAt: 4 },
      ],
    });
    const page = await open('forum.html');
    await stopWorker(ext, page);
    await page.reload();
    // The good imported pack still flags.
    const list = await markers(page);
    for (const m of list) assert.equal(m.got, m.expect, `${m.id}`);
    const options = await ext.context.newPage();
    await options.goto(ext.extensionUrl('extension/options/options.html'));
    await options.waitForSelector('body[data-ready="true"]');
    const engineStatus = await options.evaluate(() => chrome.runtime.sendMessage({ type: 'status' }));
    assert.deepEqual(engineStatus.failed.map((f) => f.name), ['broken.toml', 'limit-b.toml']);
    assert.deepEqual(engineStatus.info.map((p) => p.id).sort(), ['e2e', 'limita']);
    const shown = await options.locator('#engine-status').textContent();
    assert.match(shown, /broken\.toml: broken\.toml:19:35: rule `age-range-travel`: unknown signal `call_to_trvel`/);
    assert.match(shown, /limit-b\.toml \(limitb 1\.0\.0\): .*regexes in the loaded packs; the limit is 2000/);
    assert.match(await options.locator('.pack[data-pack="limitb"] .pack-error').textContent(), /not in use/);
    const tabId = await (await liveWorker(ext)).evaluate(async (u) => (await chrome.tabs.query({ url: u }))[0]?.id, `${server.origin}/forum.html`);
    const popup = await ext.context.newPage();
    await popup.goto(ext.extensionUrl(`extension/popup/popup.html?tab=${tabId}`));
    await popup.waitForFunction(() => !document.getElementById('engine-error').hidden);
    assert.match(await popup.locator('#engine-error').textContent(), /broken\.toml.*\n.*limit-b\.toml/s);
    await popup.close();
    await options.close();
    await page.close();
  } finally {
    await setStorage(ext, { userPacks: saved.userPacks, packState: saved.packState });
  }
});

test('Switching a pack on is checked against the limits, and refused when they would be passed (8.6)', async () => {
  const saved = await getStorage(ext, null);
  try {
    await setStorage(ext, {
      userPacks: [...saved.userPacks,
        { name: 'limit-a.toml', source: limitPack('limita', 1100), importedAt: 3 },
        { name: 'limit-b.toml', source: limitPack('limitb', 1100), importedAt: 4 }],
      packState: { ...saved.packState, limitb: { enabled: false, shadow: false, disabledRules: [] } },
    });
    const options = await ext.context.newPage();
    await options.goto(ext.extensionUrl('extension/options/options.html'));
    await options.waitForSelector('body[data-ready="true"]');
    await options.waitForSelector('.pack[data-pack="limitb"]');
    await options.locator('.pack[data-pack="limitb"] input.pack-enabled').click();
    await options.waitForSelector('#saved.error');
    assert.match(await options.locator('#saved').textContent(), /limitb.*not switched on.*regexes in the loaded packs; the limit is 2000/s);
    assert.equal((await getStorage(ext, 'packState')).packState.limitb.enabled, false);
    assert.equal(await options.locator('.pack[data-pack="limitb"] input.pack-enabled').isChecked(), false);
    await options.close();
  } finally {
    await setStorage(ext, { userPacks: saved.userPacks, packState: saved.packState });
  }
});

test('A full storage is reported when a pack is imported; a newer stored schema is not rewritten (8.6)', async () => {
  const saved = await getStorage(ext, null);
  try {
    const options = await ext.context.newPage();
    await options.goto(ext.extensionUrl('extension/options/options.html'));
    await options.waitForSelector('body[data-ready="true"]');
    // Fill storage.local to just under its quota (10 MiB in Chromium without unlimitedStorage).
    const w = await liveWorker(ext);
    await w.evaluate(async () => {
      const used = await chrome.storage.local.getBytesInUse(null);
      await chrome.storage.local.set({ filler: 'x'.repeat(chrome.storage.local.QUOTA_BYTES - used - 1500) });
    });
    const pack = readPack('test-recruitment.toml').replace('id = "e2e"', 'id = "e2e-copy"');
    await options.setInputFiles('#import-file', { name: 'copy.toml', mimeType: 'text/plain', buffer: Buffer.from(pack) });
    await options.waitForSelector('#import-result .error');
    assert.match(await options.locator('#import-result').textContent(), /storage is full/i);
    assert.equal((await getStorage(ext, 'userPacks')).userPacks.length, saved.userPacks.length);
    await w.evaluate(() => chrome.storage.local.remove('filler'));

    // Data from a newer version: its schema number and unknown keys and fields survive a
    // restart and a settings change made here.
    await setStorage(ext, { schema: 3, futureKey: { keep: true }, settings: { ...saved.settings, futureField: 'kept' } });
    await stopWorker(ext, await ext.context.newPage());
    await options.reload();
    await options.waitForSelector('body[data-ready="true"]');
    await options.locator('input[name="mode"][value="blur"]').check();
    await options.waitForFunction(() => document.getElementById('saved').textContent === 'Saved');
    const after = await getStorage(ext, null);
    assert.equal(after.schema, 3);
    assert.deepEqual(after.futureKey, { keep: true });
    assert.equal(after.settings.futureField, 'kept');
    assert.equal(after.settings.mode, 'blur');
    await options.close();
  } finally {
    await (await liveWorker(ext)).evaluate(() => chrome.storage.local.remove(['futureKey', 'filler']));
    await setStorage(ext, { schema: 2, settings: saved.settings });
  }
});

test('Site adapters give each post its channel, group or thread title where the site shows one (6.4)', async () => {
  const expected = {
    'telegram.html': ['telegram', () => 'Добровольцы'],
    'vk.html': ['vk', () => 'Гражданская самооборона'],
    'forum.html': ['generic', () => 'Foreign volunteers'],
    'reddit.html': ['reddit', (id) => (id.startsWith('t3_') ? 'r/example' : 'r/example — Volunteers wanted')],
    'facebook.html': ['facebook', (id, i) => (i < 2 ? 'Volunteers Hub — Page name' : 'Volunteers Hub — Trucking jobs')],
    'x.html': ['x', () => ''],
    'mastodon.html': ['mastodon', () => ''],
  };
  for (const [name, [adapter, want]] of Object.entries(expected)) {
    const page = await open(name);
    await markers(page);
    const got = await inContentScript(page, `(() => {
      const a = flagpostAdapters.choose(document);
      return { adapter: a.name, posts: [...document.querySelectorAll('[data-expect]')].map((p) =>
        [p.id || p.dataset.mid || p.getAttribute('thingid') || '', a.contextOf(a.postOf(p) ?? p)]) };
    })()`);
    assert.equal(got.value.adapter, adapter, name);
    assert.ok(got.value.posts.length > 0, name);
    got.value.posts.forEach(([id, context], i) => assert.equal(context, want(id, i), `${name} ${id}`));
    await page.close();
  }
});
