// Worker cold start, A/B: two built extensions, measured alternately in one run.
//   node tests/bench/cold-ab.mjs DIR_A DIR_B [rounds]
// For each extension, in alternating sessions: stop the worker, insert one known recruitment
// post, time insertion → marker; also the worker's own start-up timings.
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../server.mjs';
import { launchWithExtension, REPO } from '../harness.mjs';
import { measureColdStarts, median } from './cold-start.mjs';

const [dirA, dirB, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg ?? 3);
const CORPUS = process.env.FLAGPOST_CORPUS ?? path.join(REPO, '..', 'shared', 'corpus');
const positives = fs.readFileSync(path.join(CORPUS, 'labelled-quotes.jsonl'), 'utf8').split('\n')
  .filter((l) => l.trim()).map((l) => JSON.parse(l)).filter((q) => q.label === 1 && !q.needs_context).map((q) => q.text);

async function session(dir, n, offset) {
  const server = await startServer();
  const ext = await launchWithExtension(dir);
  try {
    const { cold, timings } = await measureColdStarts(ext, server.origin, positives.slice(offset, offset + n + 1), { pauseAfterStop: 200 });
    return { out: cold, parts: timings };
  } finally {
    await ext.context.close();
    await server.close?.();
  }
}

const res = { A: [], B: [], pA: [], pB: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, dir] of r % 2 ? [['B', dirB], ['A', dirA]] : [['A', dirA], ['B', dirB]]) {
    const { out, parts } = await session(dir, 5, 2 * r);
    res[k].push(...out);
    res[`p${k}`].push(...parts);
  }
}
for (const k of ['A', 'B']) {
  const p = res[`p${k}`];
  const m = (f) => median(p.map(f).filter(Number.isFinite)).toFixed(1);
  console.log(`${k}: insertion → marker median ${median(res[k]).toFixed(1)} ms of ${res[k].length} [${res[k].map(Math.round).join(' ')}]; ` +
    `worker start→build ${m((x) => x?.workerStartToBuildMs)}, wasm+storage ${m((x) => x?.wasmAndStorageMs)}, decode ${m((x) => x?.decodeMs)}, build ${m((x) => x?.buildMs)}`);
}
