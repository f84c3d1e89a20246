// Extension benchmark in headless Chromium. Prints a Markdown section and writes it into
// BENCHMARKS.md under "## Extension (headless Chromium)".
//
//   - Wasm engine throughput on corpus tweets (end to end: join, scan_batch, parse verdicts),
//     beside a plain JavaScript matcher (each phrase list of the shipped pack as one
//     case-insensitive RegExp run on each post), in alternating rounds of one run; medians.
//   - Native throughput on the same posts from `flagpost bench`, when the binary can be built.
//   - A 2,000-post feed appended 20 posts at a time: insertion → marker and → warning (p50, p95),
//     long tasks (>= 50 ms) with and without the extension.
//   - Wasm size raw and gzipped; worker cold start to first verdict.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../server.mjs';
import { launchWithExtension, chromiumPath, REPO } from '../harness.mjs';
import { measureColdStarts, median } from './cold-start.mjs';

const CORPUS = process.env.FLAGPOST_CORPUS ?? path.join(REPO, '..', 'shared', 'corpus');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_LANG = Number(process.env.BENCH_POSTS_PER_LANG ?? 20000);
const FEED_POSTS = 2000;

function readJsonl(file, limit = Infinity) {
  let text = fs.readFileSync(file);
  if (file.endsWith('.gz')) text = zlib.gunzipSync(text);
  const out = [];
  for (const line of text.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    out.push(JSON.parse(line));
    if (out.length >= limit) break;
  }
  return out;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

const tweets = [
  ...readJsonl(path.join(CORPUS, 'ira-tweets-en.jsonl.gz'), PER_LANG),
  ...readJsonl(path.join(CORPUS, 'ira-tweets-ru.jsonl.gz'), PER_LANG),
].map((t) => t.text);
const positives = readJsonl(path.join(CORPUS, 'labelled-quotes.jsonl')).filter((q) => q.label === 1 && !q.needs_context).map((q) => q.text);

// Feed: corpus tweets with a known recruitment-style quote every 50th post.
const feedPosts = [];
for (let i = 0; feedPosts.length < FEED_POSTS; i++) {
  feedPosts.push(i % 50 === 25 ? positives[(i / 50) % positives.length | 0] : tweets[(i * 7919) % tweets.length]);
}

// The same generated pack as `flagpost bench` (crate/src/bin/flagpost/bench.rs, generated_pack).
function generatedPack(phrases, regexes) {
  const syllables = ['ka', 'lo', 'mer', 'tis', 'van', 'ru', 'sel', 'dor', 'pra', 'zen', 'ток', 'мир', 'зан', 'вол', 'пре', 'сти'];
  const mask = (1n << 64n) - 1n;
  let state = 0x2545f491n;
  const word = () => {
    let w = '';
    for (let i = 0; i < 3; i++) {
      state ^= (state << 13n) & mask;
      state ^= state >> 7n;
      state ^= (state << 17n) & mask;
      w += syllables[Number(state % BigInt(syllables.length))];
    }
    return w;
  };
  let s = 'id = "generated"\nname = "Generated"\nversion = "1.0.0"\nlicense = "CC0-1.0"\nthreshold = 1.0\n';
  const rules = 100;
  for (let r = 0; r < rules; r++) {
    const list = [];
    for (let k = 0; k < phrases / rules; k++) list.push(`"${word()} ${word()}${k % 5 === 0 ? '*' : ''}"`);
    const res = [];
    for (let k = 0; k < regexes / rules; k++) res.push(`{ regex = '${word()}\\s+\\d{1,3}\\s+${word()}' }`);
    s += `[[rules]]\nid = "r${r}"\ncategory = "test"\nseverity = "low"\nweight = 1.0\ndescription = "generated"\ncondition = { any = [{ phrases = [${list.join(', ')}] }, ${res.join(', ')}] }\n`;
  }
  return s;
}

const server = await startServer();
const ext = await launchWithExtension();
const results = {};

try {
  // ---- throughput, side by side ----
  const page = await ext.context.newPage();
  await page.goto(ext.extensionUrl('extension/options/options.html'));
  await page.waitForSelector('body[data-ready="true"]');
  const shippedSource = fs.readFileSync(path.join(REPO, 'extension', 'packs', 'recruitment.toml'), 'utf8');
  results.throughput = await page.evaluate(async ({ posts, rounds, source }) => {
    const sc = await import(chrome.runtime.getURL('extension/lib/scanner.js'));
    await sc.loadScanner();
    const built = sc.openScanner(sc.Scanner, [await sc.shippedCompiled()], {});
    const { engine, info } = built;
    const mb = new TextEncoder().encode(posts.join('')).length / 1e6;

    // What a keyword-muting extension does: phrase lists as case-insensitive RegExps.
    const lists = [...source.matchAll(/phrases\s*=\s*\[([\s\S]*?)\]/g)].map((m) =>
      [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((q) => q[1]));
    const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = (p) => p.endsWith('*')
      ? `(?<![\\p{L}\\p{N}])${escape(p.slice(0, -1))}`
      : `(?<![\\p{L}\\p{N}])${escape(p)}(?![\\p{L}\\p{N}])`;
    const regexes = lists.filter((l) => l.length).map((l) => new RegExp(l.map(pattern).join('|'), 'iu'));

    const needles = [...new Set(lists.flat().map((p) => p.replace(/\*$/, '').toLowerCase()))];

    const wasm = [];
    const wasmScanOnly = [];
    const js = [];
    const jsSubstring = [];
    let flagged = 0;
    let jsHits = 0;
    let substringHits = 0;
    for (let round = 0; round < rounds; round++) {
      flagged = 0;
      let scanMs = 0;
      for (let i = 0; i < posts.length; i += 100) {
        const slice = posts.slice(i, i + 100);
        const s = performance.now();
        engine.scan_batch(sc.joinPosts(slice));
        scanMs += performance.now() - s;
      }
      const scanOnly = mb / (scanMs / 1000);
      let t = performance.now();
      for (let i = 0; i < posts.length; i += 100) {
        for (const r of sc.scanBatch(engine, info, posts.slice(i, i + 100))) if (r.flagged) flagged++;
      }
      wasm.push(mb / ((performance.now() - t) / 1000));
      wasmScanOnly.push(scanOnly);
      t = performance.now();
      jsHits = 0;
      for (const p of posts) for (const re of regexes) if (re.test(p)) jsHits++;
      js.push(mb / ((performance.now() - t) / 1000));
      t = performance.now();
      substringHits = 0;
      for (const p of posts) {
        const low = p.toLowerCase();
        for (const n of needles) if (low.includes(n)) substringHits++;
      }
      jsSubstring.push(mb / ((performance.now() - t) / 1000));
    }
    return { mb, posts: posts.length, wasm, wasmScanOnly, js, jsSubstring, needles: needles.length, flagged, jsHits, substringHits, regexes: regexes.length, phrases: lists.flat().length };
  }, { posts: tweets, rounds: ROUNDS, source: shippedSource });
  results.loading = await page.evaluate(async ({ generated, rounds }) => {
    const eng = await import(chrome.runtime.getURL('extension/lib/engine.js'));
    const sc = await import(chrome.runtime.getURL('extension/lib/scanner.js'));
    await Promise.all([eng.loadWasm(), sc.loadScanner()]);
    const shipped = await sc.shippedCompiled();
    const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
    const out = { fromSource: [], generated: [], shipped: [], generatedImage: [], shippedImage: [], shippedFromSource: [] };
    const shippedImg = await sc.shippedImage();
    let generatedImageBytes = 0;
    let generatedBytes = 0;
    for (let r = 0; r < Math.max(rounds, 5); r++) {
      let bytes;
      out.fromSource.push(time(() => { bytes = eng.compileSources([{ name: 'generated.toml', source: generated }]).bytes; }));
      generatedBytes = bytes.length;
      let built;
      out.generated.push(time(() => { built = new sc.Scanner([bytes], {}); }));
      const img = built.image();
      built.free();
      generatedImageBytes = img.length;
      out.generatedImage.push(time(() => {
        const s = new sc.Scanner([bytes], {}, img);
        if (!s.timings().fromImage) throw new Error('generated engine image not used');
        s.free();
      }));
      out.shipped.push(time(() => new sc.Scanner([shipped], {}).free()));
      out.shippedImage.push(time(() => {
        const s = new sc.Scanner([shipped], {}, shippedImg);
        if (!s.timings().fromImage) throw new Error('shipped engine image not used');
        s.free();
      }));
      out.shippedFromSource.push(time(() => eng.compileAll({ userPacks: [], packState: {}, settings: { threshold: null } }).engine.free()));
    }
    return { ...out, generatedBytes, generatedImageBytes, shippedBytes: shipped.length, shippedImageBytes: shippedImg.length };
  }, { generated: generatedPack(3000, 300), rounds: ROUNDS });
  await page.close();

  // ---- cold start: stop the worker, then time one new post to its verdict ----
  const { cold, timings: coldTimings } = await measureColdStarts(ext, server.origin, positives.slice(0, 6));
  results.coldStart = cold;
  results.coldTimings = coldTimings;

  // ---- feed: 2,000 posts, 20 at a time ----
  const feedPage = await ext.context.newPage();
  await feedPage.goto(`${server.origin}/bench.html`);
  await feedPage.waitForTimeout(300);
  results.feed = await feedPage.evaluate((posts) => window.runFeedBench({ posts }), feedPosts);
  await feedPage.close();
} finally {
  await ext.close();
}

// Same feed without the extension: the page's own long tasks.
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagpost-bare-'));
  const bare = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath(), headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await bare.newPage();
  await page.goto(`${server.origin}/bench.html`);
  results.bare = await page.evaluate((posts) => window.runFeedBench({ posts, settle: 300 }), feedPosts);
  await bare.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
await server.close();

// ---- native, same posts ----
let native = null;
try {
  const tmp = path.join(os.tmpdir(), 'flagpost-bench-posts.jsonl');
  fs.writeFileSync(tmp, tweets.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const out = execFileSync('cargo', ['run', '--quiet', '--release', '--bin', 'flagpost', '--', 'bench', '--runs', String(ROUNDS), tmp],
    { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = out.match(/scan, 1 thread:\s*([\d.]+)\s*MB\/s/);
  if (m) native = Number(m[1]);
  fs.rmSync(tmp, { force: true });
} catch (e) {
  console.error('native bench unavailable:', String(e.message).split('\n')[0]);
}

// ---- sizes ----
const sizeOf = (name) => {
  const file = path.join(REPO, 'dist', 'chrome', 'extension', 'pkg', `${name}_bg.wasm`);
  return { raw: fs.statSync(file).size, gz: zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length };
};
const scannerSize = sizeOf('scanner');
const authoringSize = sizeOf('authoring');
const kib = (x) => (x / 1024).toFixed(0);
const L = results.loading;

const t = results.throughput;
const wasmMed = median(t.wasm);
const jsMed = median(t.js);
const feedR = results.feed;
const chromiumVersion = execFileSync(chromiumPath(), ['--version'], { encoding: 'utf8' }).trim();
const lines = [
  '## Extension (headless Chromium)',
  '',
  `Measured by \`scripts/bench-extension.sh\` (${new Date().toISOString().slice(0, 10)}, ${chromiumVersion}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}), shipped pack, all figures from one run.`,
  '',
  `Throughput on ${t.posts.toLocaleString('en')} IRA tweets (${PER_LANG.toLocaleString('en')} English + ${PER_LANG.toLocaleString('en')} Russian, ${t.mb.toFixed(1)} MB of UTF-8 text), median of ${ROUNDS} alternating rounds:`,
  '',
  '| matcher | MB/s | vs. plain JS |',
  '| --- | ---: | ---: |',
  `| Wasm engine, end to end (join 100 posts, \`scan_batch\`, parse verdicts) | ${f1(wasmMed)} | ${f1(wasmMed / jsMed)}× |`,
  `| Wasm engine, \`scan_batch\` call alone | ${f1(median(t.wasmScanOnly))} | ${f1(median(t.wasmScanOnly) / jsMed)}× |`,
  `| plain JavaScript: ${t.regexes} case-insensitive RegExps (one per phrase list, ${t.phrases} phrases) on each post | ${f1(jsMed)} | 1.0× |`,
  `| plain JavaScript: lower-case each post, \`includes()\` for each of ${t.needles} phrases (no word boundaries) | ${f1(median(t.jsSubstring))} | ${f1(median(t.jsSubstring) / jsMed)}× |`,
  native ? `| native \`flagpost bench\`, 1 thread, same posts | ${f1(native)} | ${f1(native / jsMed)}× |` : '| native | not measured (binary unavailable) | |',
  '',
  native ? `Wasm end to end is ${f1(wasmMed / native * 100)}% of native (${f1(native / wasmMed)}× slower).` : '',
  `The engine flagged ${t.flagged} of these posts; the plain matcher had ${t.jsHits} phrase-list hits (it cannot combine cues, so it cannot decide).`,
  '',
  `Feed of ${feedR.posts.toLocaleString('en')} posts appended 20 at a time every 50 ms (generic adapter, ${feedR.flagged} flagged):`,
  '',
  '| measure | value |',
  '| --- | ---: |',
  `| insertion → marker, p50 / p95 / max | ${f1(pct(feedR.marked, 50))} / ${f1(pct(feedR.marked, 95))} / ${f1(Math.max(...feedR.marked))} ms (${feedR.marked.length} posts) |`,
  `| insertion → warning (flagged posts), p50 / p95 | ${f1(pct(feedR.warned, 50))} / ${f1(pct(feedR.warned, 95))} ms (${feedR.warned.length} posts) |`,
  `| long tasks ≥ 50 ms during the feed, with the extension | ${feedR.longTasks.length}${feedR.longTasks.length ? ` (${feedR.longTasks.join(', ')} ms)` : ''} |`,
  `| long tasks ≥ 50 ms, same feed without the extension | ${results.bare.longTasks.length} |`,
  `| worker cold start → first verdict (stopped worker, one new post), median of 5 | ${f1(median(results.coldStart))} ms (${results.coldStart.map((x) => Math.round(x)).join(', ')}) |`,
  `| of which: worker start → engine build begins / Wasm instantiate + storage + shipped packs / reading compiled packs / building the engine or loading its image (medians; image used in ${results.coldTimings.filter((x) => x?.fromImage).length} of ${results.coldTimings.length}) | ${f1(median(results.coldTimings.map((x) => x?.workerStartToBuildMs)))} / ${f1(median(results.coldTimings.map((x) => x?.wasmAndStorageMs)))} / ${f1(median(results.coldTimings.map((x) => x?.decodeMs)))} / ${f1(median(results.coldTimings.map((x) => x?.buildMs)))} ms |`,
  `| worker (scanner) Wasm module, optimised | ${kib(scannerSize.raw)} KiB raw, ${kib(scannerSize.gz)} KiB gzipped |`,
  `| authoring Wasm module (options page), optimised | ${kib(authoringSize.raw)} KiB raw, ${kib(authoringSize.gz)} KiB gzipped |`,
  '',
  `Loading packs in Wasm (medians of ${L.shipped.length}, same run):`,
  '',
  '| packs | from its engine image (decode the built tables) | from compiled form (read, build the engine) | from source (parse, validate, compile, build) |',
  '| --- | ---: | ---: | ---: |',
  `| shipped pack (${kib(L.shippedBytes)} KiB compiled, ${kib(L.shippedImageBytes)} KiB image) | ${f1(median(L.shippedImage))} ms | ${f1(median(L.shipped))} ms | ${f1(median(L.shippedFromSource))} ms |`,
  `| generated, 3,000 phrases + 300 regexes (${kib(L.generatedBytes)} KiB compiled, ${kib(L.generatedImageBytes)} KiB image) | ${f1(median(L.generatedImage))} ms | ${f1(median(L.generated))} ms | ${f1(median(L.fromSource) + median(L.generated))} ms |`,
  '',
];
const section = lines.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
console.log(section);

const benchFile = path.join(REPO, 'BENCHMARKS.md');
let doc = fs.existsSync(benchFile) ? fs.readFileSync(benchFile, 'utf8') : '# Benchmarks\n';
const start = doc.indexOf('## Extension (headless Chromium)');
if (start >= 0) {
  const next = doc.indexOf('\n## ', start + 5);
  doc = doc.slice(0, start) + section + (next >= 0 ? '\n' + doc.slice(next + 1) : '');
} else {
  doc = doc.replace(/\s*$/, '\n\n') + section;
}
fs.writeFileSync(benchFile, doc.replace(/\s*$/, '\n'));
