// The extension's plain modules, run in node: storage migrations and writes, exports, the
// batch wire format, and pack compilation with the built Wasm engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalize, SCHEMA_VERSION, siteEnabled, siteKey, save, saveOrExplain, loadState, DEFAULT_SETTINGS } from '../../extension/lib/storage.js';
import { csvCell, evidenceCsv, labelledJsonl, toCharOffset, markKey } from '../../extension/lib/export.js';
import { isQuotaError } from '../../extension/lib/browser.js';

test('storage: schema 1 data migrates, keeping packs and settings', () => {
  const v1 = { schema: 1, displayMode: 'blur', sitesOff: ['vk.com'], packs: [{ name: 'mine.toml', source: 'id = "mine"' }], packState: { mine: { enabled: false } } };
  const s = normalize(v1);
  assert.equal(s.schema, SCHEMA_VERSION);
  assert.deepEqual(s.settings, { ...DEFAULT_SETTINGS, mode: 'blur', disabledSites: ['vk.com'] });
  assert.deepEqual(s.userPacks, [{ name: 'mine.toml', source: 'id = "mine"', importedAt: 0 }]);
  assert.deepEqual(s.packState.mine, { enabled: false, shadow: false, disabledRules: [] });
});

test('storage: unreadable values fall back to defaults without losing user packs', () => {
  const s = normalize({ schema: SCHEMA_VERSION, settings: 'garbage', userPacks: [null, 42, { source: 'id = "a"', name: 'evil"name' }, 'id = "b"'], packState: [], marks: { x: { text: 1 } } });
  assert.deepEqual(s.settings, { ...DEFAULT_SETTINGS });
  assert.deepEqual(s.userPacks.map((p) => [p.name, p.source]), [['imported.toml', 'id = "a"'], ['imported.toml', 'id = "b"']]);
  assert.deepEqual(s.packState, {});
  assert.deepEqual(s.marks, {});
  assert.equal(normalize(null).settings.mode, 'banner');
  assert.equal(normalize({ schema: 99, settings: { mode: 'highlight' } }).settings.mode, 'highlight');
});

test('storage: per-site switch covers subdomains; saved pages are one site', () => {
  const settings = { disabledSites: ['vk.com'] };
  assert.equal(siteEnabled(settings, 'https://m.vk.com/wall1'), false);
  assert.equal(siteEnabled(settings, 'https://notvk.com/'), true);
  assert.equal(siteKey('file:///home/a/saved.html'), 'file');
  assert.equal(siteKey('https://www.facebook.com/x'), 'facebook.com');
});

test('export: spans in characters, CSV quoting and formula guard, labelled JSON Lines', () => {
  const text = '😀 ты обычный турист';
  assert.equal(toCharOffset(text, 3), 2);
  const post = { index: 0, text: '=cmd, "quoted"\nline', score: 1, flaggedAt: 't', categories: ['c'], rules: [{ id: 'r', pack: 'p', packVersion: '1.0.0', spans: [[1, 4]] }] };
  const csv = evidenceCsv({ url: 'https://x/' }, [post], { exportedAt: 'now' });
  assert.ok(csv.includes(`"'=cmd, ""quoted""\nline"`));
  assert.ok(csv.includes('r:1-4'));
  // Semicolon locales: a cell with `;` stays one cell, so no formula can start after it.
  assert.equal(csvCell('join us;=HYPERLINK("http://x")'), '"join us;=HYPERLINK(""http://x"")"');
  assert.equal(csvCell('a\t=cmd'), '"a\t=cmd"');
  assert.equal(csvCell('plain'), 'plain');
  const marks = { a: { text: 't1', label: true, url: 'u', rules: ['r'], time: 2 }, b: { text: 't0', label: false, url: 'u', rules: ['r'], time: 1 } };
  const lines = labelledJsonl(marks).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.id, l.text, l.label]), [['b', 't0', false], ['a', 't1', true]]);
  assert.notEqual(markKey('u', 'a'), markKey('u', 'b'));
});

// ---- pages that fight back: storage, packs, batch wire format ----


const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// A storage area in memory, as chrome.storage.local behaves (get/set/remove, a byte quota).
function fakeArea(initial = {}, { quota = Infinity } = {}) {
  const data = structuredClone(initial);
  const writes = [];
  return {
    data,
    writes,
    async get(keys) {
      if (keys === null) return structuredClone(data);
      const list = Array.isArray(keys) ? keys : [keys];
      return Object.fromEntries(list.filter((k) => k in data).map((k) => [k, structuredClone(data[k])]));
    },
    async set(values) {
      const next = { ...data, ...values };
      if (JSON.stringify(next).length > quota) throw new Error('QUOTA_BYTES quota exceeded');
      writes.push(Object.keys(values));
      Object.assign(data, structuredClone(values));
    },
    async remove(keys) {
      writes.push(['-', ...[keys].flat()]);
      for (const k of [keys].flat()) delete data[k];
    },
  };
}

test('storage: a newer stored schema is read but never rewritten, and its unknown keys and fields survive', async () => {
  const stored = {
    schema: 3, futureKey: { a: 1 },
    settings: { mode: 'blur', threshold: null, disabledSites: [], futureField: 'x' },
    userPacks: [{ name: 'mine.toml', source: 'id = "mine"', importedAt: 5, signature: 'sig' }],
    packState: { mine: { enabled: false, shadow: false, disabledRules: [], pinned: true } },
  };
  const s = normalize(stored);
  assert.equal(s.schema, 3);
  assert.equal(s.settings.futureField, 'x');
  assert.equal(s.userPacks[0].signature, 'sig');
  assert.equal(s.packState.mine.pinned, true);

  const area = fakeArea(stored);
  await save({ settings: { ...s.settings, mode: 'highlight' } }, area);
  assert.equal(area.data.schema, 3, 'schema number not lowered');
  assert.deepEqual(area.data.futureKey, { a: 1 });
  assert.equal(area.data.settings.futureField, 'x');
  assert.equal(area.data.settings.mode, 'highlight');
  assert.deepEqual(area.writes, [['settings']]);

  const current = fakeArea({ schema: 2 });
  await save({ marks: {} }, current);
  assert.equal(current.data.schema, 2);
  const fresh = fakeArea({});
  await save({ marks: {} }, fresh);
  assert.equal(fresh.data.schema, SCHEMA_VERSION);
});

test('storage: a full storage is explained, not lost', async () => {
  const area = fakeArea({ schema: 2 }, { quota: 200 });
  assert.equal(await saveOrExplain({ marks: {} }, area), null);
  const problem = await saveOrExplain({ userPacks: [{ name: 'big.toml', source: 'x'.repeat(500) }] }, area);
  assert.match(problem, /storage is full/);
  assert.match(problem, /QUOTA_BYTES/);
  assert.equal(area.data.userPacks, undefined);
  assert.ok(isQuotaError(new Error('QUOTA_BYTES quota exceeded')));
  assert.ok(isQuotaError('QuotaExceededError: storage.local quota exceeded'));
  assert.ok(!isQuotaError(new Error('Access to storage is not allowed from this context.')));
});

test('storage: loading data of a newer schema writes nothing; older data is migrated once', async () => {
  const newer = fakeArea({ schema: 3, futureKey: 1, settings: { mode: 'blur' } });
  const s = await loadState(newer);
  assert.equal(s.settings.mode, 'blur');
  assert.deepEqual(newer.writes, []);
  assert.equal(newer.data.futureKey, 1);
  const older = fakeArea({ schema: 1, displayMode: 'highlight' });
  assert.equal((await loadState(older)).settings.mode, 'highlight');
  assert.equal(older.data.schema, SCHEMA_VERSION);
  assert.equal(older.data.displayMode, undefined);
});

// The Wasm engine, loaded in node from the built extension (extension/pkg).
const pkgDir = path.join(ROOT, 'extension', 'pkg');
const haveWasm = fs.existsSync(path.join(pkgDir, 'authoring_bg.wasm')) && fs.existsSync(path.join(pkgDir, 'scanner_bg.wasm'));

test('engine: packs compile independently; one bad or oversized pack leaves the others working', { skip: !haveWasm && 'extension/pkg is not built' }, async () => {
  const pkg = await import(path.join(pkgDir, 'authoring.js'));
  pkg.initSync({ module: fs.readFileSync(path.join(pkgDir, 'authoring_bg.wasm')) });
  const { compileAll, describeFailures, scanBatch } = await import('../../extension/lib/engine.js');
  const read = (name) => fs.readFileSync(path.join(ROOT, 'tests', 'packs', name), 'utf8');
  const limitPack = (id) => {
    const any = [];
    for (let i = 0; i < 1100; i++) any.push(`{ regex = "q${id}x${i}[0-9]{2}" }`);
    return `id = "${id}"\nname = "${id}"\nversion = "1.0.0"\nlicense = "CC0-1.0"\nthreshold = 1.0\n\n` +
      `[[rules]]\nid = "r"\ncategory = "test"\nseverity = "low"\nweight = 1.0\ndescription = "limit test"\ncondition = { any = [${any.join(', ')}] }\n`;
  };
  const state = normalize({
    schema: 2,
    userPacks: [
      { name: 'test-recruitment.toml', source: read('test-recruitment.toml') },
      { name: 'broken.toml', source: read('broken.toml').replace('id = "e2e"', 'id = "other"') },
      { name: 'a.toml', source: limitPack('a') },
      { name: 'b.toml', source: limitPack('b') },
    ],
    packState: { recruitment: { enabled: false } },
  });
  const built = compileAll(state);
  assert.ok(built.engine, 'an engine with the packs that work');
  assert.deepEqual(built.info.map((p) => p.id), ['e2e', 'a']);
  assert.deepEqual(built.failed.map((f) => f.name), ['broken.toml', 'b.toml']);
  const lines = describeFailures(built.failed);
  assert.match(lines[0], /^broken\.toml: broken\.toml:19:35: rule `age-range-travel`: unknown signal `call_to_trvel`/);
  assert.match(lines[1], /^b\.toml \(b 1\.0\.0\): .*regexes in the loaded packs; the limit is 2000/);
  const verdicts = scanBatch(built.engine, built.info, ['Hello', 'We need men aged 18-45 who are ready to go']);
  assert.equal(verdicts.length, 1);
  assert.equal(verdicts[0].i, 1);
  assert.ok(verdicts[0].rules.some((r) => r.pack === 'e2e' && r.spans.length), 'rules with spans');
  built.engine.free();

  // All good: one compile, nothing failed.
  const good = compileAll(normalize({ schema: 2, userPacks: [{ name: 't.toml', source: read('test-recruitment.toml') }] }));
  assert.deepEqual(good.failed, []);
  good.engine.free();
});

test('engine: batch wire format — posts joined with U+001E, context before U+001F, separators inside become spaces', { skip: !haveWasm && 'extension/pkg is not built' }, async () => {
  const { joinPosts, SEPARATOR, CONTEXT_SEPARATOR } = await import('../../extension/lib/scanner.js');
  assert.equal(SEPARATOR, '\u001e');
  assert.equal(CONTEXT_SEPARATOR, '\u001f');
  assert.equal(joinPosts(['a', 'b']), 'a\u001eb');
  assert.equal(joinPosts(['one\u001etwo', 'x\u001fy']), 'one two\u001ex y');
  assert.equal(joinPosts(['text one', 'text two', 'text three'], ['Channel', '', 'r/sub\u001ftitle\u001e']),
    'Channel\u001ftext one\u001etext two\u001er/sub title \u001ftext three');
  // Offsets in the text part stay where they were: each separator became one space.
  const joined = joinPosts(['ready\u001fto go'], ['ctx']);
  assert.equal(joined.split(CONTEXT_SEPARATOR)[1].indexOf('to go'), 'ready\u001fto go'.indexOf('to go'));
});

// The worker's scanner module and the command line give the same verdicts on real posts: the
// labelled rows and a slice of the corpus tweets, through the shipped packs compiled at build.
const nativeBin = path.join(ROOT, 'target', 'release', 'flagpost');
const corpusDir = path.join(ROOT, 'crate', 'testdata', 'corpus');
test('engine: the Wasm scanner and the command line agree on every labelled row and 5,000 tweets', {
  skip: (!haveWasm && 'extension/pkg is not built') || (!fs.existsSync(nativeBin) && 'target/release/flagpost is not built'),
}, async () => {
  const { execFileSync } = await import('node:child_process');
  const zlib = await import('node:zlib');
  const posts = [];
  for (const f of fs.readdirSync(corpusDir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of fs.readFileSync(path.join(corpusDir, f), 'utf8').split('\n')) {
      if (line.trim()) posts.push(JSON.parse(line));
    }
  }
  const tweets = path.join(ROOT, '..', 'shared', 'corpus', 'ira-tweets-ru.jsonl.gz');
  if (fs.existsSync(tweets)) {
    const lines = zlib.gunzipSync(fs.readFileSync(tweets)).toString('utf8').split('\n').filter(Boolean);
    for (const line of lines.slice(0, 5000)) posts.push(JSON.parse(line));
  }
  const input = posts.map((p) => JSON.stringify({ text: p.text, context: p.context ?? undefined })).join('\n') + '\n';
  const native = execFileSync(nativeBin, ['scan', '--threads', '1'], { input, maxBuffer: 1 << 28 }).toString('utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(native.length, posts.length);

  const scanner = await import(path.join(pkgDir, 'scanner.js'));
  scanner.initSync({ module: fs.readFileSync(path.join(pkgDir, 'scanner_bg.wasm')) });
  const { openScanner, scanBatch } = await import('../../extension/lib/scanner.js');
  const shipped = fs.readFileSync(path.join(pkgDir, 'shipped.fpk'));
  const image = fs.readFileSync(path.join(pkgDir, 'shipped.engine'));
  // The engine built from the compiled packs, and the one loaded from the image built with
  // the extension: both must agree with the command line.
  for (const withImage of [false, true]) {
    const built = openScanner(scanner.Scanner, [shipped], {}, withImage ? image : null);
    assert.ok(built.engine, JSON.stringify(built.errors));
    assert.equal(built.engine.timings().fromImage, withImage);
    const wasm = new Map();
    for (let i = 0; i < posts.length; i += 100) {
      const slice = posts.slice(i, i + 100);
      for (const r of scanBatch(built.engine, built.info, slice.map((p) => p.text), slice.map((p) => p.context ?? ''))) wasm.set(i + r.i, r);
    }
    built.engine.free();
    // Native offsets count characters; Wasm's count UTF-16 units.
    const utf16 = (text, at) => Array.from(text).slice(0, at).join('').length;
    let flagged = 0;
    posts.forEach((p, i) => {
      const n = native[i];
      const w = wasm.get(i) ?? { flagged: false, score: 0, rules: [] };
      const where = `post ${i}: ${p.text.slice(0, 80)}`;
      assert.equal(w.flagged, n.flagged, where);
      assert.ok(Math.abs(w.score - n.score) < 1e-9, `${where}: score ${w.score} vs ${n.score}`);
      assert.deepEqual(w.rules.map((r) => r.id).sort(), n.rules.map((r) => r.id).sort(), where);
      const nativeSpans = n.hits.map((h) => `${h.rule}:${utf16(p.text, h.start)}-${utf16(p.text, h.end)}`).sort();
      const wasmSpans = w.rules.flatMap((r) => r.spans.map(([s, e]) => `${r.id}:${s}-${e}`)).sort();
      assert.deepEqual([...new Set(wasmSpans)], [...new Set(nativeSpans)], where);
      if (n.flagged) flagged++;
    });
    assert.ok(flagged > 100, `only ${flagged} posts flagged: the comparison would say little`);
  }
});

test('engine: an engine image is used only for the packs and settings it was built from', { skip: !haveWasm && 'extension/pkg is not built' }, async () => {
  const scanner = await import(path.join(pkgDir, 'scanner.js'));
  scanner.initSync({ module: fs.readFileSync(path.join(pkgDir, 'scanner_bg.wasm')) });
  const shipped = fs.readFileSync(path.join(pkgDir, 'shipped.fpk'));
  const image = fs.readFileSync(path.join(pkgDir, 'shipped.engine'));
  const fromImage = (blobs, settings, img) => {
    const s = new scanner.Scanner(blobs, settings, img);
    const used = s.timings().fromImage;
    const threshold = s.packs()[0].threshold;
    s.free();
    return { used, threshold };
  };
  assert.deepEqual(fromImage([shipped], {}, image), { used: true, threshold: 1 });
  // Other settings: the image is stale and the engine is built, with those settings.
  assert.deepEqual(fromImage([shipped], { threshold: 2.5 }, image), { used: false, threshold: 2.5 });
  // A damaged image is refused (with a console warning) and the engine is built.
  const damaged = Uint8Array.from(image);
  damaged[damaged.length - 1] ^= 1;
  const warn = console.warn;
  const warned = [];
  console.warn = (m) => warned.push(String(m));
  try {
    assert.deepEqual(fromImage([shipped], {}, damaged), { used: false, threshold: 1 });
  } finally {
    console.warn = warn;
  }
  assert.ok(warned.some((m) => m.includes('checksum')), warned.join('\n'));
});
