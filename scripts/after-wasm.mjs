// After the Wasm modules are built: compiles the shipped packs for the scanner
// (extension/pkg/shipped.fpk) and the engine built from them with default settings
// (extension/pkg/shipped.engine, an engine image the worker loads instead of building when
// nothing differs), checks that the scanner loads both and finds a known post, and
// writes the limits the extension shares with the engine, from the engine itself:
// extension/lib/limits.js (an ES module for the worker and pages) and
// extension/content/limits.js (a classic script for the content scripts). All three are build
// outputs; crate/src/limits.rs is the one source of the numbers.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ext = path.resolve(process.argv[2] ?? 'extension');
const pkg = path.join(ext, 'pkg');

async function load(name) {
  const mod = await import(pathToFileURL(path.join(pkg, `${name}.js`)).href);
  mod.initSync({ module: fs.readFileSync(path.join(pkg, `${name}_bg.wasm`)) });
  return mod;
}

const authoring = await load('authoring');
const scanner = await load('scanner');

const { bytes, failed } = authoring.compile_sources(authoring.shipped_sources());
if (failed.length) {
  throw new Error(`the shipped packs do not compile:\n${failed.flatMap((f) => f.errors.map((e) => e.display)).join('\n')}`);
}
fs.writeFileSync(path.join(pkg, 'shipped.fpk'), bytes);

const probe = 'We need men aged 18-45 who are in Ukraine or are ready to go\u001eHello\u001e' +
  'Приглашаем на службу по контракту, выплаты от 200 000 рублей, звоните';
const verdicts = (engine) => {
  const listed = engine.scan_batch(probe);
  return { listed, posts: [...engine.posts()], scores: [...engine.scores()], hits: [...engine.hits()], spans: [...engine.spans()] };
};
const engine = new scanner.Scanner([bytes], {});
const built = verdicts(engine);
if (built.listed < 1 || built.posts[0] !== 0) throw new Error('the scanner found nothing in a known recruitment post');
const image = engine.image();
if (!image) throw new Error('the scanner gave no engine image for the shipped packs');
fs.writeFileSync(path.join(pkg, 'shipped.engine'), image);
const loaded = new scanner.Scanner([bytes], {}, image);
if (!loaded.timings().fromImage) throw new Error('the scanner did not load the engine image it wrote');
if (JSON.stringify(verdicts(loaded)) !== JSON.stringify(built)) throw new Error('the engine image scans differently from the engine it came from');
console.error(`wasm check: ${engine.packs().length} pack(s) loaded from ${bytes.length} bytes of compiled packs; ` +
  `${built.listed} of 3 posts with hits; engine image of ${image.length} bytes scans the same`);
engine.free();
loaded.free();

const limits = scanner.limits();
const body = JSON.stringify(limits, null, 2);
const header = '// Written by scripts/after-wasm.mjs from the engine (crate/src/limits.rs). Do not edit.\n';
fs.writeFileSync(path.join(ext, 'lib', 'limits.js'), `${header}export const LIMITS = Object.freeze(${body});\n`);
fs.writeFileSync(path.join(ext, 'content', 'limits.js'),
  `${header}/* exported flagpostLimits */\nconst flagpostLimits = Object.freeze(${body});\n`);
