//! `flagpost bench`: scan throughput on one thread and on all, compile times, peak memory.

use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use flagpost::normalize::{normalize_into, normalize_phrase, Normalized};
use flagpost::{parse_pack, Condition, PackFormat, RulePack, Scratch};
use serde_json::{json, Value};

use crate::common::{
    compile, load_packs, median, parse_post, read_file, round, say, Fatal, Outcome,
};

#[derive(clap::Args)]
pub struct Args {
    /// JSON Lines files of posts (`text`, optional `context`).
    #[arg(value_name = "POSTS.jsonl", required = true)]
    files: Vec<String>,
    /// A rule pack; repeat for several. Without it, the shipped packs.
    #[arg(long = "pack", value_name = "FILE")]
    packs: Vec<String>,
    /// Timed passes over the posts; the median is reported.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Threads for the all-threads figure (default: one per core).
    #[arg(long, value_name = "N", value_parser = crate::threads)]
    threads: Option<usize>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Time scanning only: one compile, no generated-pack timings, one all-threads pass.
    #[arg(long)]
    scan_only: bool,
}

fn median_or_null(xs: Vec<f64>) -> Value {
    if xs.is_empty() {
        Value::Null
    } else {
        json!(round(median(xs)))
    }
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A pack of `phrases` phrases and `regexes` regexes over made-up words, for compile timing.
pub fn generated_pack(phrases: usize, regexes: usize) -> String {
    let syllables = [
        "ka", "lo", "mer", "tis", "van", "ru", "sel", "dor", "pra", "zen", "ток", "мир", "зан",
        "вол", "пре", "сти",
    ];
    let mut state = 0x2545_f491_u64;
    let mut word = || {
        let mut w = String::new();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            w.push_str(syllables[(state % syllables.len() as u64) as usize]);
        }
        w
    };
    let mut s = String::from(
        "id = \"generated\"\nname = \"Generated\"\nversion = \"1.0.0\"\nlicense = \"CC0-1.0\"\nthreshold = 1.0\n",
    );
    let rules = 100;
    for r in 0..rules {
        let list: Vec<String> = (0..phrases / rules)
            .map(|k| {
                format!(
                    "\"{} {}{}\"",
                    word(),
                    word(),
                    if k % 5 == 0 { "*" } else { "" }
                )
            })
            .collect();
        let res: Vec<String> = (0..regexes / rules)
            .map(|_| format!("{{ regex = '{}\\s+\\d{{1,3}}\\s+{}' }}", word(), word()))
            .collect();
        s.push_str(&format!(
            "[[rules]]\nid = \"r{r}\"\ncategory = \"test\"\nseverity = \"low\"\nweight = 1.0\n\
             description = \"generated\"\ncondition = {{ any = [{{ phrases = [{}] }}, {}] }}\n",
            list.join(", "),
            res.join(", ")
        ));
    }
    s
}

/// Every phrase of the packs, normalised as the engine writes them (stems without their `*`).
fn phrases_of(packs: &[RulePack]) -> Vec<String> {
    fn walk(c: &Condition, out: &mut Vec<String>) {
        match c {
            Condition::Phrases(list) => {
                for p in list {
                    out.push(normalize_phrase(&p.text.replace('*', "")));
                }
            }
            Condition::All(p)
            | Condition::Any(p)
            | Condition::None(p)
            | Condition::AtLeast(_, p) => p.iter().for_each(|c| walk(c, out)),
            Condition::Near(_, p) => p.iter().for_each(|c| walk(c, out)),
            Condition::Context(c) => walk(c, out),
            Condition::Regex(_)
            | Condition::Range(_)
            | Condition::Signal(_)
            | Condition::Model { .. } => {}
        }
    }
    let mut out = Vec::new();
    for pack in packs {
        for (_, c) in &pack.signals {
            walk(c, &mut out);
        }
        for r in &pack.rules {
            walk(&r.condition, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out.retain(|p| !p.is_empty());
    out
}

/// The yardstick the engine is held to: lower-case each post, then run a bare Aho-Corasick
/// DFA over the same phrases, counting every match.
struct Yardstick {
    ac: AhoCorasick,
}

impl Yardstick {
    fn new(phrases: &[String]) -> Yardstick {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(phrases)
            .expect("phrases build");
        Yardstick { ac }
    }

    /// One pass over the posts: MB/s.
    fn pass(&self, posts: &[(String, Option<String>)], bytes: usize) -> f64 {
        let t = Instant::now();
        let mut matches = 0;
        for (text, _) in posts {
            let lower = text.to_lowercase();
            matches += self.ac.find_overlapping_iter(lower.as_bytes()).count();
        }
        std::hint::black_box(matches);
        bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
    }
}

pub fn run(a: Args) -> Outcome {
    let runs = a.runs as usize;
    let mut posts = Vec::new();
    for f in &a.files {
        for (k, line) in read_file(f)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let post = parse_post(line, k + 1).map_err(|e| Fatal(format!("{f}: {e}")))?;
            posts.push((post.text, post.context));
        }
    }
    if posts.is_empty() {
        return Err(Fatal(format!("no posts in {}", a.files.join(", "))));
    }
    let bytes: usize = posts.iter().map(|(t, _)| t.len()).sum();
    let packs = load_packs(&a.packs)?;

    let compile_runs = if a.scan_only { 1 } else { runs.max(5) };
    let mut compile_ms = Vec::new();
    for _ in 0..compile_runs {
        let t = Instant::now();
        let engine = compile(&packs)?;
        compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(engine);
    }
    let generated = generated_pack(3000, 300);
    let generated_runs = if a.scan_only { 0 } else { compile_runs };
    let mut generated_parse_ms = Vec::new();
    let mut generated_compile_ms = Vec::new();
    let mut generated_load_ms = Vec::new();
    let mut generated_image_ms = Vec::new();
    let mut generated_image_bytes = 0;
    for _ in 0..generated_runs {
        let t = Instant::now();
        let pack = parse_pack(&generated, PackFormat::Toml, "generated.toml")
            .map_err(|e| Fatal(e.to_string()))?;
        generated_parse_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let engine = compile(std::slice::from_ref(&pack))?;
        generated_compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(engine);
        // What a scanner does with the compiled form: read it, build the engine.
        let stored = flagpost::compiled::encode(&[(pack, generated.as_str())]);
        let t = Instant::now();
        let loaded = flagpost::compiled::decode(&stored, "generated.fpk")
            .map_err(|e| Fatal(e.to_string()))?;
        let loaded: Vec<_> = loaded.into_iter().map(|c| c.pack).collect();
        let engine = compile(&loaded)?;
        generated_load_ms.push(t.elapsed().as_secs_f64() * 1e3);
        // What a scanner does with a stored engine image.
        let image = engine.to_image(0);
        generated_image_bytes = image.len();
        drop(engine);
        let t = Instant::now();
        let engine = flagpost::Engine::from_image(&image, 0).map_err(|e| Fatal(e.to_string()))?;
        generated_image_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(engine);
    }

    let engine = compile(&packs)?;
    let mut scratch = Scratch::default();
    let scan = |scratch: &mut Scratch, (text, context): &(String, Option<String>)| {
        engine.scan_in_context(text, context.as_deref(), scratch)
    };
    let flagged = posts
        .iter()
        .filter(|p| scan(&mut scratch, p).flagged)
        .count();
    // The engine and the yardstick take turns, pass by pass, so both see the same machine.
    let phrases = phrases_of(&packs);
    let yardstick = Yardstick::new(&phrases);
    let mut single = Vec::new();
    let mut yard = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for p in &posts {
            std::hint::black_box(scan(&mut scratch, p));
        }
        single.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
        yard.push(yardstick.pass(&posts, bytes));
    }
    let baseline_mb_s = median(yard);
    // The two halves of each side, alone: normalising against lower-casing.
    let mut norm = Normalized::default();
    let mut normalise = Vec::new();
    let mut lower_case = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for (text, _) in &posts {
            normalize_into(text, &mut norm);
            std::hint::black_box(&norm);
        }
        normalise.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for (text, _) in &posts {
            std::hint::black_box(text.to_lowercase());
        }
        lower_case.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    let threads = a.threads.unwrap_or_else(crate::cores);
    let mut multi = Vec::new();
    for _ in 0..if a.scan_only { 1 } else { runs } {
        let t = Instant::now();
        std::thread::scope(|s| {
            for chunk in posts.chunks(posts.len().div_ceil(threads).max(1)) {
                let scan = &scan;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    for p in chunk {
                        std::hint::black_box(scan(&mut scratch, p));
                    }
                });
            }
        });
        multi.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    let report = json!({
        "posts": posts.len(),
        "megabytes": round(bytes as f64 / 1e6),
        "flagged": flagged,
        "runs": runs,
        "threads": threads,
        "single_thread_mb_s": round(median(single.clone())),
        "baseline_mb_s": round(baseline_mb_s),
        "baseline_phrases": phrases.len(),
        "ratio_to_baseline": round(median(single) / baseline_mb_s),
        "normalise_mb_s": round(median(normalise)),
        "lower_case_mb_s": round(median(lower_case)),
        "all_threads_mb_s": round(median(multi)),
        "compile_shipped_ms": round(median(compile_ms)),
        "parse_generated_ms": median_or_null(generated_parse_ms),
        "compile_generated_ms": median_or_null(generated_compile_ms),
        "load_generated_compiled_ms": median_or_null(generated_load_ms),
        "load_generated_image_ms": median_or_null(generated_image_ms),
        "generated_image_bytes": generated_image_bytes,
        "peak_memory_kib": peak_memory_kib(),
    });
    if a.json {
        say!("{report}");
    } else {
        say!(
            "{} posts, {:.1} MB, {} flagged\n\
             scan, 1 thread:        {} MB/s (median of {runs})\n\
             lower-case + bare Aho-Corasick DFA ({} phrases): {} MB/s; engine/baseline {}\n\
             normalise alone:       {} MB/s; lower-case alone {} MB/s\n\
             scan, {threads} threads:       {} MB/s\n\
             compile shipped packs: {} ms\n\
             generated pack (3,000 phrases, 300 regexes): parse {} ms, compile {} ms (from its compiled form: {} ms; from an engine image of {} bytes: {} ms)\n\
             peak memory:           {} KiB",
            posts.len(),
            bytes as f64 / 1e6,
            flagged,
            report["single_thread_mb_s"],
            report["baseline_phrases"],
            report["baseline_mb_s"],
            report["ratio_to_baseline"],
            report["normalise_mb_s"],
            report["lower_case_mb_s"],
            report["all_threads_mb_s"],
            report["compile_shipped_ms"],
            report["parse_generated_ms"],
            report["compile_generated_ms"],
            report["load_generated_compiled_ms"],
            report["generated_image_bytes"],
            report["load_generated_image_ms"],
            report["peak_memory_kib"],
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
