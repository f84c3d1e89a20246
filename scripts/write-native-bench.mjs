// Writes the native figures measured by `flagpost bench --json` into BENCHMARKS.md, replacing
// the "## Engine (native)" section (or adding it first).
import fs from 'node:fs';
import os from 'node:os';

const [jsonPath, mdPath = 'BENCHMARKS.md', streamKib = ''] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
const date = new Date().toISOString().slice(0, 10);
const ratio = (r.all_threads_mb_s / r.single_thread_mb_s).toFixed(2);
const section = `## Engine (native)

Measured by \`./build.sh bench\` (\`flagpost bench --runs ${r.runs}\`) on ${date}, ${os.cpus().length} cores (${cpu}),
shipped pack, over all corpus tweets: ${r.posts.toLocaleString('en')} posts, ${r.megabytes} MB of UTF-8 text
(English, Russian and \`uk\`-tagged). Medians of ${r.runs} passes, all figures from one run. The machine is shared
and runs vary by up to 2× from one to the next; ratios are only quoted between figures of one run
(the extension section below measures native beside Wasm in its own run).

| measure | value | target |
| --- | ---: | --- |
| scan, 1 thread | ${r.single_thread_mb_s.toFixed(1)} MB/s | ≥ 150 MB/s |
${r.baseline_mb_s ? `| yardstick, same run: lower-case each post, then a bare Aho-Corasick DFA over the same ${r.baseline_phrases.toLocaleString('en')} phrases | ${r.baseline_mb_s.toFixed(1)} MB/s | |
| engine ÷ yardstick, one thread | ${r.ratio_to_baseline.toFixed(2)}× | ≥ 1.0× |
` : ''}| scan, ${r.threads} threads | ${r.all_threads_mb_s.toFixed(1)} MB/s (${ratio}× one thread) | |
| compile the shipped pack | ${r.compile_shipped_ms.toFixed(1)} ms | |
| generated pack, 3,000 phrases and 300 regexes: compile from the validated pack | ${r.compile_generated_ms.toFixed(1)} ms | ≤ 20 ms |
${r.load_generated_compiled_ms ? `| same pack, loading its compiled form (read, build the engine) | ${r.load_generated_compiled_ms.toFixed(1)} ms | ≤ 10 ms (in Wasm) |
` : ''}${r.load_generated_image_ms ? `| same pack, loading its engine image (${(r.generated_image_bytes / 1024).toFixed(0)} KiB: decode the built tables) | ${r.load_generated_image_ms.toFixed(1)} ms | |
` : ''}| same pack: parse and validate the TOML | ${r.parse_generated_ms.toFixed(1)} ms | |
| peak memory of the benchmark (all posts held in memory) | ${(r.peak_memory_kib / 1024).toFixed(0)} MiB | |
${streamKib ? `| peak memory of \`flagpost scan\` streaming the same posts (constant in input size) | ${(Number(streamKib) / 1024).toFixed(0)} MiB | |\n` : ''}| posts flagged | ${r.flagged} of ${r.posts.toLocaleString('en')} | ≤ 1 in 2,000 |

`;
let md = fs.existsSync(mdPath) ? fs.readFileSync(mdPath, 'utf8') : '# Benchmarks\n\n';
const start = md.indexOf('## Engine (native)');
if (start >= 0) {
  const next = md.indexOf('\n## ', start + 1);
  md = md.slice(0, start) + section + (next >= 0 ? md.slice(next + 1) : '');
} else {
  const first = md.indexOf('\n## ');
  md = first >= 0 ? md.slice(0, first + 1) + section + md.slice(first + 1) : md + section;
}
fs.writeFileSync(mdPath, md);
console.log(`native figures written to ${mdPath}`);
