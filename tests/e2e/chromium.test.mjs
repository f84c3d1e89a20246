// End-to-end tests: the built extension (dist/chrome) in headless Chromium on fixture pages
// served with a strict Content-Security-Policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../server.mjs';
import { launchWithExtension, liveWorker, stopWorker, useTestPack, setStorage, getStorage, markers, readPack, inWarning, inShadow, REPO, ARTIFACTS } from '../harness.mjs';

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(REPO, 'docs', 'images') : ARTIFACTS;
let server;
let ext;
const requests = [];

before(async () => {
  server = await startServer();
  ext = await launchWithExtension();
  ext.context.on('request', (r) => requests.push(r.url()));
  await useTestPack(ext);
});

after(async () => {
  await ext?.close();
  await server?.close();
});

async function open(name) {
  const page = await ext.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(`${server.origin}/${name}`);
  return page;
}

function assertMarkers(list, { initial = false } = {}) {
  assert.ok(list.length > 0, 'fixture has posts');
  for (const m of list) {
    const want = initial && m.initially ? m.initially : m.expect;
    assert.equal(m.got, want, `post ${m.id}: expected ${want}, got ${m.got}`);
    if (want === 'flagged') {
      assert.deepEqual(m.rules, m.expectRules, `post ${m.id}: rules`);
      assert.ok(Number(m.score) >= 1, `post ${m.id}: score ${m.score}`);
      assert.equal(m.warnings, 1, `post ${m.id}: exactly one warning`);
    } else {
      assert.deepEqual(m.rules, [], `post ${m.id}: clean post has no rules`);
      assert.equal(m.warnings, 0, `post ${m.id}: clean post has no warning`);
    }
  }
}

async function tabIdOf(url) {
  const w = await liveWorker(ext);
  return w.evaluate(async (u) => (await chrome.tabs.query({ url: u }))[0]?.id, url);
}

function save(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

test('VK feed: markers land on exactly the expected posts and comments; "show more" is caught', async () => {
  const page = await open('vk.html');
  assertMarkers(await markers(page), { initial: true });
  await page.click('.wall_post_more');
  await page.waitForFunction(() => document.querySelector('#post-1_106').dataset.flagpost === 'flagged');
  assertMarkers(await markers(page));
  // The post's own text only: the nested comment's rule is not added to the parent post.
  assert.equal(await page.getAttribute('#post-1_101', 'data-flagpost-rules'), 'age-range-travel');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('X timeline: markers, appended tweets, an edited tweet, warning before the content, page text untouched', async () => {
  const page = await open('x.html');
  const before = await page.locator('[data-testid="tweetText"]').evaluateAll((els) => els.map((e) => e.innerHTML));
  assertMarkers(await markers(page));
  // The warning sits just before the post's content and the page's own nodes are unchanged.
  const placement = await page.locator('article[data-flagpost="flagged"]').first().evaluate((a) => ({
    prev: a.querySelector('[data-testid="tweetText"]').previousElementSibling?.localName,
    open: a.querySelector('flagpost-warning').shadowRoot,
  }));
  assert.deepEqual(placement, { prev: 'flagpost-warning', open: null });
  assert.deepEqual(await page.locator('[data-testid="tweetText"]').evaluateAll((els) => els.map((e) => e.innerHTML)), before);
  // Matched words are marked by an overlay inside the warning's closed shadow root, lying on
  // the words themselves; nothing is registered with the page's highlight registry.
  const marked = await inWarning(page, (root) => [...root.querySelectorAll('.hit')].map((m) => m.getBoundingClientRect().toJSON()));
  assert.ok(marked.length > 0, 'matched words are marked');
  const word = await page.evaluate(() => {
    const node = document.querySelector('[data-flagpost="flagged"] [data-testid="tweetText"] span').firstChild;
    const at = node.data.indexOf('make hijrah');
    const r = document.createRange();
    r.setStart(node, at);
    r.setEnd(node, at + 'make hijrah'.length);
    return r.getBoundingClientRect().toJSON();
  });
  assert.ok(marked.some((m) => Math.abs(m.left - word.left) < 2 && Math.abs(m.top - word.top) < 2 && Math.abs(m.width - word.width) < 2),
    `a mark lies on "make hijrah": ${JSON.stringify({ marked, word })}`);
  assert.equal(await page.evaluate(() => CSS.highlights.size), 0);

  // Infinite scroll.
  assert.equal(await page.evaluate(() => window.appendTweets()), 4);
  await page.waitForFunction(() => [...document.querySelectorAll('article[data-appended]')].every((a) => a.dataset.flagpost));
  assertMarkers(await markers(page));

  // An edited post is scanned again; its old verdict does not stick.
  await page.evaluate(() => {
    const clean = document.querySelectorAll('article[data-testid="tweet"]')[2];
    clean.id = 'edited';
    clean.querySelector('[data-testid="tweetText"] span').firstChild.data = 'Edited: we need men aged 18-45 who are ready to go';
  });
  await page.waitForFunction(() => document.getElementById('edited').dataset.flagpost === 'flagged');
  assert.equal(await page.getAttribute('#edited', 'data-flagpost-rules'), 'age-range-travel');
  // Rescans never warn twice on one post.
  await page.waitForTimeout(300);
  const counts = await page.locator('article').evaluateAll((as) => as.map((a) => a.querySelectorAll('flagpost-warning').length));
  assert.ok(counts.every((n) => n <= 1), `warnings per post: ${counts}`);
  await page.close();
});

test('Telegram Web: markers on messages; the warning matches the dark page', async () => {
  const page = await open('telegram.html');
  assertMarkers(await markers(page));
  assert.equal(await inWarning(page, (root) => root.querySelector('.box').classList.contains('dark')), true);
  await page.close();
});

test('Forum, Reddit, Facebook and unknown feed pages are read from their structure', async () => {
  for (const name of ['forum.html', 'reddit.html', 'facebook.html', 'feed.html']) {
    const page = await open(name);
    assertMarkers(await markers(page));
    await page.close();
  }
  // Menus and buttons are not post text: the nav link and the button labels that contain
  // matching phrases flag nothing.
  const forum = await open('forum.html');
  await markers(forum);
  assert.equal(await forum.locator('nav [data-flagpost], header [data-flagpost]').evaluateAll((e) => e.length), 0);
  assert.equal(await forum.getAttribute('#p1', 'data-flagpost'), 'clean');
  await forum.close();
});

test('Warning: category, severity, reason; details on demand with rules and matched words; keyboard dismiss', async () => {
  const page = await open('x.html');
  await markers(page);
  const read = () => inWarning(page, (root) => {
    const q = (sel) => root.querySelector(sel);
    const shown = (e) => !!e && e.checkVisibility() && e.getBoundingClientRect().height > 0;
    return {
      label: q('.box').getAttribute('aria-label'), role: q('.box').getAttribute('role'),
      title: q('.title').textContent, sev: q('.sev').textContent, reason: q('.reason').textContent,
      details: shown(q('.details')), detailsText: q('.details').textContent, expanded: q('button.toggle').getAttribute('aria-expanded'),
      marks: [...root.querySelectorAll('.details mark')].map((m) => m.textContent),
    };
  });
  let w = await read();
  assert.match(w.label, /Flagpost warning: .+, very serious/);
  assert.equal(w.role, 'note');
  assert.match(w.title, /hijrah/i);
  // Plain words for how serious it is, not a red all-capitals label.
  assert.equal(w.sev, 'very serious');
  assert.equal(w.reason, 'Urges the reader to make hijrah');
  assert.equal(w.details, false);
  await inWarning(page, (root) => root.querySelector('button.toggle').focus());
  await page.keyboard.press('Enter');
  w = await read();
  assert.equal(w.details, true);
  assert.equal(w.expanded, 'true');
  assert.match(w.detailsText, /hijrah-call/);
  assert.deepEqual(w.marks, ['make hijrah']);
  await save(page, 'warning.png');
  await inWarning(page, (root) => root.querySelector('button.dismiss').focus());
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('article[data-flagpost="flagged"] flagpost-warning').count(), 0);
  // Still marked for moderators and the popup, only the warning is gone.
  assert.equal(await page.locator('article[data-flagpost="flagged"]').count(), 1);
  // The focus moves to "Undo", left in the warning's place; Undo puts the warning back with the
  // focus on its Dismiss button (issue 8, item 10).
  const undo = () => inShadow(page, 'document.querySelector("article[data-flagpost=flagged] flagpost-notice")', (root) => ({
    text: root.querySelector('.notice-text').textContent, focused: root.activeElement?.textContent ?? null,
  }));
  assert.deepEqual((await undo()).value, { text: 'Warning dismissed for this post.', focused: 'Undo' });
  assert.equal(await page.evaluate(() => document.activeElement.localName), 'flagpost-notice');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('article[data-flagpost="flagged"] flagpost-warning').length === 1);
  assert.equal(await page.locator('flagpost-notice').count(), 0);
  assert.equal(await inWarning(page, (root) => root.activeElement?.className), 'dismiss');
  // Dismissed again, it stays dismissed when the page is opened again …
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('flagpost-notice'));
  let stored = await getStorage(ext, 'dismissed');
  for (let i = 0; i < 100 && !Object.keys(stored.dismissed ?? {}).length; i++) {
    await page.waitForTimeout(100);
    stored = await getStorage(ext, 'dismissed');
  }
  assert.equal(Object.keys(stored.dismissed).length, 1);
  assert.ok(!JSON.stringify(stored.dismissed).includes('hijrah'), 'dismissals keep a fingerprint, not the text');
  await page.reload();
  await markers(page);
  await page.waitForTimeout(300);
  assert.equal(await page.locator('article[data-flagpost="flagged"]').count(), 1);
  assert.equal(await page.locator('flagpost-warning').count(), 0);
  // … until the options page's "Show dismissed warnings again".
  const options = await ext.context.newPage();
  await options.goto(ext.extensionUrl('extension/options/options.html'));
  await options.waitForSelector('body[data-ready="true"]');
  assert.equal(await options.locator('#dismissed-count').textContent(), '1 dismissed warning is remembered.');
  await options.click('#dismissed-clear');
  await options.close();
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('article[data-flagpost="flagged"] flagpost-warning').length === 1);
  await page.close();
});

test('Blur mode blurs until "show anyway"; highlight mode draws no banner', async () => {
  const st = await getStorage(ext, 'settings');
  await setStorage(ext, { settings: { ...st.settings, mode: 'blur' } });
  const page = await open('x.html');
  await markers(page);
  // The post's text is covered by a blurring layer inside the warning's closed shadow root: a
  // click in the middle of the text lands on the warning, not on the page's element.
  const covered = () => page.evaluate(() => {
    const content = document.querySelector('[data-flagpost="flagged"] [data-testid="tweetText"]');
    const r = content.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return content.contains(hit) ? 'the post' : hit?.localName;
  });
  await page.waitForFunction(() => document.querySelector('[data-flagpost="flagged"] flagpost-warning'));
  assert.equal(await covered(), 'flagpost-warning');
  const cover = await inWarning(page, (root) => {
    const c = root.querySelector('.cover');
    return c && getComputedStyle(c).backdropFilter;
  });
  assert.match(cover, /blur/);
  assert.equal(await page.locator('[data-flagpost-blur]').count(), 0);
  await save(page, 'warning-blur.png');
  await inWarning(page, (root) => root.querySelector('button.reveal').focus());
  await page.keyboard.press('Enter');
  assert.equal(await covered(), 'the post');
  assert.equal(await inWarning(page, (root) => root.querySelectorAll('.cover, button.reveal').length), 0);

  await setStorage(ext, { settings: { ...st.settings, mode: 'highlight' } });
  await page.waitForFunction(() => document.querySelector('flagpost-warning')?.getBoundingClientRect().height === 0);
  assert.equal(await page.locator('article[data-flagpost="flagged"]').count(), 1);
  // Highlight only: no banner in the flow of the page, but a small "Why flagged?" button on the
  // post opens the same warning, with its reasons and Dismiss (issue 8, item 13).
  const drawn = await inWarning(page, (root) => ({
    shown: !!root.querySelector('.box')?.checkVisibility(), hits: root.querySelectorAll('.hit').length,
    outline: root.querySelectorAll('.outline').length, chip: root.querySelector('button.chip')?.textContent,
  }));
  assert.deepEqual(drawn, { shown: false, hits: 1, outline: 1, chip: '⚑ Why flagged?' });
  await inWarning(page, (root) => root.querySelector('button.chip').focus());
  await page.keyboard.press('Enter');
  const opened = await inWarning(page, (root) => ({
    shown: root.querySelector('.box').checkVisibility(), focused: root.activeElement?.className,
    expanded: root.querySelector('button.chip').getAttribute('aria-expanded'), reason: root.querySelector('.reason').textContent,
  }));
  assert.deepEqual(opened, { shown: true, focused: 'toggle', expanded: 'true', reason: 'Urges the reader to make hijrah' });
  await inWarning(page, (root) => root.querySelector('button.dismiss').click());
  await page.waitForFunction(() => !document.querySelector('article[data-flagpost="flagged"] flagpost-warning'));
  await inShadow(page, 'document.querySelector("flagpost-notice")', (root) => root.querySelector('button').click());
  await setStorage(ext, { settings: { ...st.settings, mode: 'banner' } });
  await page.waitForFunction(() => document.querySelector('flagpost-warning')?.getBoundingClientRect().height > 20);
  await page.close();
});

test('Popup: count and badge, list that scrolls to each post, export as JSON and CSV, marks as JSON Lines', async () => {
  const page = await open('telegram.html');
  await markers(page);
  const tabId = await tabIdOf(`${server.origin}/telegram.html`);
  assert.ok(Number.isInteger(tabId));
  const w = await liveWorker(ext);
  await page.waitForTimeout(300);
  assert.equal(await w.evaluate((id) => chrome.action.getBadgeText({ tabId: id }), tabId), '2');

  const popup = await ext.context.newPage();
  await popup.setViewportSize({ width: 400, height: 560 });
  await popup.goto(ext.extensionUrl(`extension/popup/popup.html?tab=${tabId}`));
  await popup.waitForFunction(() => document.getElementById('summary').dataset.count !== undefined);
  assert.equal(await popup.locator('#summary').textContent(), '2 flagged posts on this page');
  assert.equal(await popup.locator('#posts li').count(), 2);
  await save(popup, 'popup.png');

  // Jump to the second flagged post.
  await popup.locator('#posts li .go').nth(1).click();
  await page.waitForFunction(() => {
    const last = [...document.querySelectorAll('[data-flagpost="flagged"]')].at(-1);
    const r = last.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight;
  });

  // Evidence as JSON.
  const [jsonDownload] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-json')]);
  const evidence = JSON.parse(fs.readFileSync(await jsonDownload.path(), 'utf8'));
  assert.equal(evidence.page.url, `${server.origin}/telegram.html`);
  assert.ok(Date.parse(evidence.exportedAt));
  assert.equal(evidence.posts.length, 2);
  const first = evidence.posts[0];
  assert.match(first.text, /ты обычный турист/);
  assert.deepEqual(first.rules.map((r) => r.id).sort(), ['no-questions', 'tourist-cover']);
  assert.equal(first.rules[0].pack, 'e2e');
  assert.equal(first.rules[0].packVersion, '0.3.0');
  const tourist = first.rules.find((r) => r.id === 'tourist-cover').spans[0];
  assert.equal(tourist.text, 'ты обычный турист');
  assert.equal([...first.text].slice(tourist.start, tourist.end).join(''), 'ты обычный турист');

  // Evidence as CSV.
  const [csvDownload] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-csv')]);
  const csv = fs.readFileSync(await csvDownload.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv[0], 'page_url,exported_at,flagged_at,post_index,score,categories,rule_ids,packs,spans,matched,text');
  assert.equal(csv.length, 3);
  assert.match(csv[1], /e2e@0\.3\.0/);

  // Moderator marks → labelled JSON Lines for `flagpost eval`.
  await popup.locator('#posts li').nth(0).locator('button.good').click();
  await popup.locator('#posts li').nth(1).locator('button.bad').click();
  await popup.waitForFunction(() => document.querySelector('#posts li:nth-child(2) button.bad').getAttribute('aria-pressed') === 'true');
  const [labels] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-labels')]);
  const lines = fs.readFileSync(await labels.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(lines.map((l) => l.label), [true, false]);
  for (const l of lines) {
    assert.equal(typeof l.text, 'string');
    assert.equal(l.url, `${server.origin}/telegram.html`);
    assert.ok(l.id && Array.isArray(l.rules) && l.rules.length > 0);
  }
  await popup.close();
  await page.close();
});

test('"Next flagged post" and pause on this site', async () => {
  const page = await open('vk.html');
  await markers(page);
  const tabId = await tabIdOf(`${server.origin}/vk.html`);
  const w = await liveWorker(ext);
  const next = () => w.evaluate((id) => chrome.tabs.sendMessage(id, { type: 'next' }), tabId);
  assert.deepEqual(await next(), { ok: true, index: 0 });
  assert.deepEqual(await next(), { ok: true, index: 1 });
  assert.equal(await page.evaluate(() => document.activeElement?.localName), 'flagpost-warning');

  const popup = await ext.context.newPage();
  await popup.goto(ext.extensionUrl(`extension/popup/popup.html?tab=${tabId}`));
  await popup.waitForFunction(() => document.getElementById('summary').dataset.count !== undefined);
  await popup.check('#pause');
  await page.waitForFunction(() => !document.querySelector('[data-flagpost]') && !document.querySelector('flagpost-warning'));
  const st = await getStorage(ext, 'settings');
  assert.deepEqual(st.settings.disabledSites, ['127.0.0.1']);
  await popup.uncheck('#pause');
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 2);
  await popup.close();
  await page.close();
});

test('Options: a broken pack is refused with line and column, and the previous pack keeps working', async () => {
  const options = await ext.context.newPage();
  await options.goto(ext.extensionUrl('extension/options/options.html'));
  await options.waitForSelector('body[data-ready="true"]');
  assert.equal(await options.locator('.pack[data-pack="e2e"]').count(), 1);
  await options.setInputFiles('#import-file', { name: 'broken.toml', mimeType: 'text/plain', buffer: Buffer.from(readPack('broken.toml')) });
  await options.waitForSelector('#import-result .error');
  const shown = await options.locator('#import-result').textContent();
  assert.match(shown, /broken\.toml:19:35: rule `age-range-travel`: unknown signal `call_to_trvel`/);
  assert.match(shown, /not imported/);
  const stored = await getStorage(ext, 'userPacks');
  assert.equal(stored.userPacks.length, 1);
  assert.match(stored.userPacks[0].source, /version = "0\.3\.0"/);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await options.locator('section[aria-labelledby="packs-title"]').screenshot({ path: path.join(SCREENSHOTS, 'options-import-error.png') });
  // The old pack still flags.
  const page = await open('forum.html');
  assertMarkers(await markers(page));
  await page.close();
  await options.close();
});

test('Options: import a good pack (examples run), playground shows verdict, breakdown and highlights', async () => {
  const options = await ext.context.newPage();
  await options.goto(ext.extensionUrl('extension/options/options.html'));
  await options.waitForSelector('body[data-ready="true"]');
  const newer = readPack('test-recruitment.toml').replace('version = "0.3.0"', 'version = "0.3.1"');
  await options.setInputFiles('#import-file', { name: 'test-recruitment.toml', mimeType: 'text/plain', buffer: Buffer.from(newer) });
  await options.waitForSelector('#import-result .ok');
  assert.match(await options.locator('#import-result').textContent(), /\(e2e 0\.3\.1\): 9 examples passed/);
  await options.waitForSelector('.pack[data-pack="e2e"] code:text("e2e 0.3.1")');
  assert.equal((await getStorage(ext, 'userPacks')).userPacks.length, 1, 'same id replaces the earlier import');

  await options.fill('#playground-input', 'Remember — you are an ordinary tourist. We need men aged 18-45 who are ready to go');
  await options.waitForSelector('#playground-verdict[data-flagged="true"]');
  const verdict = await options.locator('#playground-verdict').textContent();
  assert.match(verdict, /Flagged — score 2/);
  assert.deepEqual((await options.locator('#playground-verdict tr[data-rule]').evaluateAll((rs) => rs.map((r) => r.dataset.rule))).sort(), ['age-range-travel', 'tourist-cover']);
  const marks = await options.locator('#playground-text mark').allTextContents();
  assert.ok(marks.includes('you are an ordinary tourist'), `marks: ${marks}`);
  await options.fill('#playground-input', 'Open day for players aged 18-45: come and try rugby.');
  await options.waitForSelector('#playground-verdict[data-flagged="false"]');
  await options.fill('#playground-input', 'We need men aged 18-45 who are ready to go. Remember, you are just a tourist.');
  await options.waitForSelector('#playground-verdict[data-flagged="true"]');
  await options.locator('.pack[data-pack="e2e"] details.rule-list summary').click();
  await save(options, 'options.png');
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await options.locator('section[aria-labelledby="playground-title"]').screenshot({ path: path.join(SCREENSHOTS, 'options-playground.png') });

  // A rule switched off stops firing on pages.
  await options.locator('.pack[data-pack="e2e"] tr[data-rule="hijrah-call"] input').uncheck();
  await options.waitForTimeout(200);
  const page = await open('x.html');
  await markers(page);
  assert.equal(await page.locator('[data-flagpost="flagged"]').count(), 0);
  await options.locator('.pack[data-pack="e2e"] tr[data-rule="hijrah-call"] input').check();
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  // Count-only mode: rules fire and are counted, nothing is shown.
  await options.locator('.pack[data-pack="e2e"] input.pack-shadow').check();
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 0 && document.querySelectorAll('[data-flagpost="clean"]').length === 6);
  await options.locator('.pack[data-pack="e2e"] input.pack-shadow').uncheck();
  await page.waitForFunction(() => document.querySelectorAll('[data-flagpost="flagged"]').length === 1);
  await page.close();
  await options.close();
});

test('Shipped pack flags real recruitment posts and none of the IRA tweets (Mastodon-shaped page)', async () => {
  const st = await getStorage(ext, null);
  await setStorage(ext, { packState: { recruitment: { enabled: true, shadow: false, disabledRules: [] }, e2e: { enabled: false, shadow: false, disabledRules: [] } } });
  const page = await open('mastodon.html');
  const list = await markers(page);
  for (const m of list) assert.equal(m.got, m.expect, `${m.id}: expected ${m.expect}, got ${m.got}`);
  assert.equal(list.filter((m) => m.got === 'flagged').length, 4);
  await page.close();
  await setStorage(ext, { packState: st.packState });
});

test('The background comes back after the browser stops its worker', async () => {
  const page = await open('x.html');
  await markers(page);
  const { statuses, detach } = await stopWorker(ext, page, { keepWatching: true });
  const t0 = Date.now();
  assert.equal(await page.evaluate(() => window.appendTweets()), 4);
  await page.waitForFunction(() => [...document.querySelectorAll('article[data-appended]')].every((a) => a.dataset.flagpost), null, { timeout: 10000 });
  assertMarkers(await markers(page));
  const comeback = Date.now() - t0;
  assert.equal(statuses.at(-1), 'running', `worker states: ${statuses}`);
  assert.ok(comeback < 3000, `first verdicts ${comeback} ms after the worker was stopped`);
  await detach();
  await page.close();
});

test('Compiled user packs are kept beside their source, used after a restart, and compiled again when damaged or of another format', async () => {
  let page = await open('x.html');
  assertMarkers(await markers(page), { initial: true });
  const { compiledUserPacks: stored } = await getStorage(ext, 'compiledUserPacks');
  assert.equal(stored.digests.length, 1, 'one user pack compiled');
  assert.deepEqual(stored.failed, []);
  assert.equal(Buffer.from(stored.data, 'base64').subarray(0, 8).toString('latin1'), 'FLAGPOST');
  const { userPacks } = await getStorage(ext, 'userPacks');
  assert.match(userPacks[0].source, /^id = /m, 'the source is still the stored copy');
  // How the worker got the user's packs when it last started, asked from an extension page.
  const startedFrom = async () => {
    const p = await ext.context.newPage();
    await p.goto(ext.extensionUrl('extension/popup/popup.html'));
    const st = await p.evaluate(() => chrome.runtime.sendMessage({ type: 'status' }));
    await p.close();
    return st.timings?.userPacksFrom;
  };
  await stopWorker(ext, page);
  await page.close();
  page = await open('x.html');
  assertMarkers(await markers(page), { initial: true });
  assert.equal(await startedFrom(), 'stored', 'a restarted worker reads the stored compiled packs');

  const damaged = Buffer.from(stored.data, 'base64');
  damaged[damaged.length - 3] ^= 0xff;
  for (const cache of [{ ...stored, data: damaged.toString('base64') }, { ...stored, format: 999 }, { ...stored, data: 'not base64 at all!' }]) {
    await setStorage(ext, { compiledUserPacks: cache });
    await stopWorker(ext, page);
    await page.close();
    page = await open('x.html');
    assertMarkers(await markers(page), { initial: true });
    const { compiledUserPacks: again } = await getStorage(ext, 'compiledUserPacks');
    assert.equal(await startedFrom(), 'source', 'refused, and compiled again from the source');
    assert.equal(again.data, stored.data, 'to the same bytes');
    assert.equal(again.format, stored.format);
  }
  await page.close();
});

test('The engine built for the user\'s packs and settings is kept as an image, loaded after a restart, and built over when damaged or stale', async () => {
  const timings = async () => {
    const p = await ext.context.newPage();
    await p.goto(ext.extensionUrl('extension/popup/popup.html'));
    const st = await p.evaluate(() => chrome.runtime.sendMessage({ type: 'status' }));
    await p.close();
    return st.timings ?? {};
  };
  // Restarts the worker; with `check`, the markers must be those of the default settings.
  const restart = async (page, check = true) => {
    await stopWorker(ext, page);
    await page.close();
    const fresh = await open('x.html');
    const list = await markers(fresh);
    if (check) assertMarkers(list, { initial: true });
    return fresh;
  };
  let page = await open('x.html');
  assertMarkers(await markers(page), { initial: true });
  // A user pack is installed here, so the shipped image does not match and the engine is
  // built; its image is then stored.
  const until = Date.now() + 5000;
  let image;
  while (!image && Date.now() < until) {
    ({ engineImage: image } = await getStorage(ext, 'engineImage'));
    if (!image) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(Buffer.from(image, 'base64').subarray(0, 8).toString('latin1'), 'FPENGINE');
  page = await restart(page);
  assert.equal((await timings()).fromImage, true, 'a restarted worker loads the stored engine image');

  const damaged = Buffer.from(image, 'base64');
  damaged[damaged.length - 5] ^= 0xff;
  await setStorage(ext, { engineImage: damaged.toString('base64') });
  page = await restart(page);
  assert.equal((await timings()).fromImage, false, 'a damaged image is refused and the engine built');
  page = await restart(page);
  assert.equal((await timings()).fromImage, true, 'and the image of the engine built then is stored');
  assert.equal((await getStorage(ext, 'engineImage')).engineImage, image, 'the same image as before');

  // Other settings make the stored image stale: the engine is built and its image replaces it.
  const { settings } = await getStorage(ext, 'settings');
  await setStorage(ext, { settings: { ...settings, threshold: 1.5 } });
  const deadline = Date.now() + 5000;
  let changed = image;
  while (changed === image && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    ({ engineImage: changed } = await getStorage(ext, 'engineImage'));
  }
  assert.notEqual(changed, image, 'a new image for the new settings');
  page = await restart(page, false);
  assert.equal((await timings()).fromImage, true, 'loaded after a restart with the new settings');
  await setStorage(ext, { settings });
  await page.close();
});

test('No network request of its own: only the fixture server and the extension itself are contacted', async () => {
  const w = await liveWorker(ext);
  const fromWorker = await w.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
  const all = [...requests, ...fromWorker];
  assert.ok(all.length > 10);
  const foreign = all.filter((u) => !u.startsWith(server.origin + '/') && !u.startsWith(`chrome-extension://${ext.extensionId}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.ok(server.requests.every((u) => !u.includes('flagpost')), 'the extension sends nothing to the page\'s server');
});
