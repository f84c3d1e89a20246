//! `flagpost`: scan posts, evaluate, test and lint rule packs.

use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flagpost::verdict::char_unit;
use flagpost::{
    parse_pack, run_examples, shipped_packs, Engine, EngineOptions, PackFormat, RulePack, Scratch,
    Verdict,
};
use serde_json::{json, Value};

const USAGE: &str = "\
flagpost — flag recruitment-style posts with rule packs

USAGE:
  flagpost scan [--pack FILE]... [--threads N] [--flagged-only] [--explain]
                                                    < posts.jsonl > verdicts.jsonl
  flagpost eval [--pack FILE]... --labelled FILE [--show] [--json]
                [--min-precision X] [--min-recall X]
  flagpost test FILE...
  flagpost lint FILE...
  flagpost bench [--pack FILE]... [--runs N] POSTS.jsonl...

Without --pack, the packs shipped in extension/packs/ are used.
scan reads JSON Lines with `text` (and optional `id`) and writes one verdict per line, in order;
--explain prints the flagged posts with their reasons for people to read instead.
eval reads JSON Lines with `text` and `label` (true/false or 1/0).
Exit status: 0 all good, 1 a check failed, 2 bad usage or unreadable input.";

/// Prints a line to standard output; a reader that went away (`| head`) ends the command
/// quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("flagpost: cannot write output: {e}");
            std::process::exit(2);
        }
    }};
}

/// An error that ends the command with exit status 2.
struct Fatal(String);

type Outcome = Result<ExitCode, Fatal>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("scan") => scan(&args[1..]),
        Some("eval") => eval(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("lint") => lint(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("-h" | "--help" | "help") => {
            say!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some("-V" | "--version") => {
            say!("flagpost {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(Fatal(format!("unknown command `{other}`\n\n{USAGE}"))),
        None => Err(Fatal(USAGE.to_string())),
    };
    match result {
        Ok(code) => code,
        Err(Fatal(message)) => {
            eprintln!("flagpost: {message}");
            ExitCode::from(2)
        }
    }
}

/// Command-line options shared by the commands.
#[derive(Default)]
struct Options {
    packs: Vec<String>,
    labelled: Option<String>,
    threads: Option<usize>,
    runs: Option<usize>,
    show: bool,
    json: bool,
    flagged_only: bool,
    explain: bool,
    scan_only: bool,
    min_precision: Option<f64>,
    min_recall: Option<f64>,
    files: Vec<String>,
}

fn parse_options(args: &[String], allowed: &[&str]) -> Result<Options, Fatal> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        if flag.starts_with("--") && !allowed.contains(&flag) {
            return Err(Fatal(format!("unknown option `{flag}`\n\n{USAGE}")));
        }
        let takes_value = matches!(
            flag,
            "--pack" | "--labelled" | "--threads" | "--runs" | "--min-precision" | "--min-recall"
        );
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    Some(
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| Fatal(format!("`{flag}` needs a value")))?,
                    )
                }
            }
        } else {
            None
        };
        let number = |v: &Option<String>| -> Result<f64, Fatal> {
            v.as_deref()
                .unwrap_or("")
                .parse::<f64>()
                .map_err(|_| Fatal(format!("`{flag}` needs a number")))
        };
        match flag {
            "--pack" => o.packs.push(value.unwrap_or_default()),
            "--labelled" => o.labelled = value,
            "--threads" => o.threads = Some(number(&value)?.max(1.0) as usize),
            "--runs" => o.runs = Some(number(&value)?.max(1.0) as usize),
            "--min-precision" => o.min_precision = Some(number(&value)?),
            "--min-recall" => o.min_recall = Some(number(&value)?),
            "--show" => o.show = true,
            "--json" => o.json = true,
            "--flagged-only" => o.flagged_only = true,
            "--explain" => o.explain = true,
            "--scan-only" => o.scan_only = true,
            _ if arg.starts_with('-') && arg != "-" => {
                return Err(Fatal(format!("unknown option `{arg}`\n\n{USAGE}")))
            }
            _ => o.files.push(arg.to_string()),
        }
        i += 1;
    }
    Ok(o)
}

fn read_file(path: &str) -> Result<String, Fatal> {
    fs::read_to_string(path).map_err(|e| Fatal(format!("cannot read {path}: {e}")))
}

/// Loads the packs named on the command line, or the shipped ones.
fn load_packs(paths: &[String]) -> Result<Vec<RulePack>, Fatal> {
    let sources: Vec<(String, String)> = if paths.is_empty() {
        shipped_packs()
            .into_iter()
            .map(|(name, source)| (format!("extension/packs/{name}"), source.to_string()))
            .collect()
    } else {
        paths
            .iter()
            .map(|p| Ok((p.clone(), read_file(p)?)))
            .collect::<Result<_, Fatal>>()?
    };
    if sources.is_empty() {
        return Err(Fatal("no rule packs: pass --pack FILE".to_string()));
    }
    let mut packs = Vec::new();
    for (name, source) in sources {
        let pack = parse_pack(&source, PackFormat::from_name(&name), &name)
            .map_err(|e| Fatal(format!("the rule pack is refused:\n{e}")))?;
        packs.push(pack);
    }
    Ok(packs)
}

fn compile(packs: &[RulePack]) -> Result<Engine, Fatal> {
    Engine::compile(packs, &EngineOptions::default())
        .map_err(|e| Fatal(format!("the rule packs are refused:\n{e}")))
}

// ---- scan ----

const BATCH_LINES: usize = 512;

fn scan(args: &[String]) -> Outcome {
    let o = parse_options(
        args,
        &["--pack", "--threads", "--flagged-only", "--explain"],
    )?;
    if !o.files.is_empty() {
        return Err(Fatal(format!(
            "scan reads posts from standard input, not `{}`",
            o.files[0]
        )));
    }
    let engine = Arc::new(compile(&load_packs(&o.packs)?)?);
    let threads = o
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Bounded in-flight batches keep memory constant however long the input is.
    let in_flight = threads * 4;
    let (job_tx, job_rx) = sync_channel::<(usize, usize, Vec<String>)>(in_flight);
    let (done_tx, done_rx) = sync_channel::<(usize, String, usize)>(in_flight);
    let (token_tx, token_rx) = sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        token_tx.send(()).expect("token channel open");
    }
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut workers = Vec::new();
    for _ in 0..threads {
        let (engine, job_rx, done_tx) = (engine.clone(), job_rx.clone(), done_tx.clone());
        let flagged_only = o.flagged_only || o.explain;
        let explain = o.explain;
        workers.push(std::thread::spawn(move || {
            let mut scratch = Scratch::default();
            loop {
                let job = job_rx.lock().expect("job queue").recv();
                let Ok((seq, first_line, lines)) = job else {
                    break;
                };
                let mut out = String::with_capacity(lines.len() * 96);
                let mut bad = 0;
                for (k, line) in lines.iter().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match scan_line(&engine, &mut scratch, line, first_line + k, explain) {
                        Ok((verdict_line, flagged)) => {
                            if flagged || !flagged_only {
                                out.push_str(&verdict_line);
                                out.push('\n');
                            }
                        }
                        Err(message) => {
                            bad += 1;
                            eprintln!("flagpost: {message}");
                            out.push_str(&json!({"id": null, "error": message}).to_string());
                            out.push('\n');
                        }
                    }
                }
                if done_tx.send((seq, out, bad)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(done_tx);
    let writer =
        std::thread::spawn(move || -> io::Result<usize> { write_in_order(done_rx, token_tx) });

    let stdin = io::stdin();
    let mut reader = stdin.lock();
    let mut seq = 0;
    let mut line_no = 1;
    let mut read_error = None;
    loop {
        let mut lines = Vec::with_capacity(BATCH_LINES);
        let mut buf = String::new();
        while lines.len() < BATCH_LINES {
            buf.clear();
            match reader.read_line(&mut buf) {
                Ok(0) => break,
                Ok(_) => lines.push(std::mem::take(&mut buf)),
                Err(e) => {
                    read_error = Some(format!(
                        "cannot read standard input at line {}: {e}",
                        line_no + lines.len()
                    ));
                    break;
                }
            }
        }
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        if token_rx.recv().is_err() || job_tx.send((seq, line_no, lines)).is_err() {
            break;
        }
        seq += 1;
        line_no += n;
        if n < BATCH_LINES || read_error.is_some() {
            break;
        }
    }
    drop(job_tx);
    for w in workers {
        let _ = w.join();
    }
    let bad = match writer.join() {
        Ok(Ok(bad)) => bad,
        Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => return Err(Fatal(format!("cannot write output: {e}"))),
        Err(_) => return Err(Fatal("output thread failed".to_string())),
    };
    if let Some(e) = read_error {
        return Err(Fatal(e));
    }
    if bad > 0 {
        return Err(Fatal(format!(
            "{bad} input lines could not be read (see `error` lines)"
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_in_order(
    done: Receiver<(usize, String, usize)>,
    tokens: std::sync::mpsc::SyncSender<()>,
) -> io::Result<usize> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0;
    let mut bad = 0;
    for (seq, text, errors) in done {
        pending.insert(seq, (text, errors));
        while let Some((text, errors)) = pending.remove(&next) {
            out.write_all(text.as_bytes())?;
            bad += errors;
            next += 1;
            let _ = tokens.try_send(());
        }
    }
    out.flush()?;
    Ok(bad)
}

fn parse_post(line: &str, line_no: usize) -> Result<(Value, Value), String> {
    let mut value: Value =
        serde_json::from_str(line).map_err(|e| format!("line {line_no}: not JSON: {e}"))?;
    let Some(object) = value.as_object_mut() else {
        return Err(format!("line {line_no}: expected a JSON object"));
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    match object.remove("text") {
        Some(Value::String(text)) => Ok((id, Value::String(text))),
        Some(_) => Err(format!("line {line_no}: `text` is not a string")),
        None => Err(format!("line {line_no}: no `text` field")),
    }
}

fn scan_line(
    engine: &Engine,
    scratch: &mut Scratch,
    line: &str,
    line_no: usize,
    explain: bool,
) -> Result<(String, bool), String> {
    let (id, text) = parse_post(line, line_no)?;
    let text = text.as_str().unwrap_or_default();
    let verdict = engine.scan(text, scratch);
    if explain {
        return Ok((
            explanation(engine, &id, line_no, text, &verdict),
            verdict.flagged,
        ));
    }
    Ok((
        verdict_json(engine, &id, text, &verdict).to_string(),
        verdict.flagged,
    ))
}

/// A flagged post for people to read: why it fired, rule by rule, with the matched words.
fn explanation(
    engine: &Engine,
    id: &Value,
    line_no: usize,
    text: &str,
    verdict: &Verdict,
) -> String {
    use std::fmt::Write as _;
    let name = match id {
        Value::Null => format!("line {line_no}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = format!(
        "{name}: score {} — {}\n  \"{}\"\n",
        round(verdict.score),
        verdict.categories.join(", "),
        shorten(text, 200)
    );
    for r in &verdict.rules {
        let info = &engine.packs()[r.pack].rules[r.rule];
        let words: Vec<String> = r
            .spans
            .iter()
            .map(|s| format!("\"{}\"", shorten(&text[s.start..s.end], 60)))
            .collect();
        let _ = write!(
            out,
            "  - {} ({}, {}, weight {}): {}\n    matched {}\n",
            r.id,
            r.category,
            r.severity.as_str(),
            r.weight,
            info.description,
            words.join(", ")
        );
    }
    out.pop();
    out
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The verdict line of the command-line contract, with spans in characters.
fn verdict_json(engine: &Engine, id: &Value, text: &str, verdict: &Verdict) -> Value {
    let mut offsets = Vec::new();
    verdict.span_offsets(text, char_unit, &mut offsets);
    let mut k = 0;
    let mut hits = Vec::new();
    let mut rules = Vec::new();
    for r in &verdict.rules {
        for s in &r.spans {
            hits.push(json!({
                "rule": r.id,
                "category": r.category,
                "start": offsets[k],
                "end": offsets[k + 1],
                "text": &text[s.start..s.end],
            }));
            k += 2;
        }
        let pack = &engine.packs()[r.pack];
        let mut rule = json!({
            "id": r.id,
            "pack": pack.id,
            "category": r.category,
            "severity": r.severity.as_str(),
            "weight": r.weight,
        });
        if r.shadow {
            rule["shadow"] = Value::Bool(true);
        }
        rules.push(rule);
    }
    let mut v = json!({
        "id": id,
        "flagged": verdict.flagged,
        "score": round(verdict.score),
        "categories": verdict.categories,
        "hits": hits,
        "rules": rules,
    });
    if verdict.truncated {
        v["truncated"] = Value::Bool(true);
    }
    v
}

// ---- eval ----

struct Labelled {
    text: String,
    label: bool,
    line: usize,
}

fn read_labelled(path: &str) -> Result<Vec<Labelled>, Fatal> {
    let source = read_file(path)?;
    let mut posts = Vec::new();
    for (k, line) in source.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| Fatal(format!("{path}:{}: not JSON: {e}", k + 1)))?;
        let text = v
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| Fatal(format!("{path}:{}: no `text` string", k + 1)))?;
        let label = match v.get("label") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) if n.as_f64() == Some(1.0) => true,
            Some(Value::Number(n)) if n.as_f64() == Some(0.0) => false,
            Some(Value::String(s)) if matches!(s.as_str(), "1" | "true") => true,
            Some(Value::String(s)) if matches!(s.as_str(), "0" | "false") => false,
            _ => {
                return Err(Fatal(format!(
                    "{path}:{}: `label` must be true/false or 1/0",
                    k + 1
                )))
            }
        };
        posts.push(Labelled {
            text: text.to_string(),
            label,
            line: k + 1,
        });
    }
    if posts.is_empty() {
        return Err(Fatal(format!("{path}: no labelled posts")));
    }
    Ok(posts)
}

#[derive(Default, Clone)]
struct RuleCounts {
    hits: usize,
    tp: usize,
    fp: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn eval(args: &[String]) -> Outcome {
    let o = parse_options(
        args,
        &[
            "--pack",
            "--labelled",
            "--show",
            "--json",
            "--min-precision",
            "--min-recall",
        ],
    )?;
    let path = o
        .labelled
        .clone()
        .or_else(|| o.files.first().cloned())
        .ok_or_else(|| Fatal("eval needs --labelled FILE".to_string()))?;
    let engine = compile(&load_packs(&o.packs)?)?;
    let posts = read_labelled(&path)?;
    let mut scratch = Scratch::default();
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    let mut per_rule: Vec<Vec<RuleCounts>> = engine
        .packs()
        .iter()
        .map(|p| vec![RuleCounts::default(); p.rules.len()])
        .collect();
    let mut wrong = Vec::new();
    for post in &posts {
        let verdict = engine.scan(&post.text, &mut scratch);
        match (verdict.flagged, post.label) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
        for r in &verdict.rules {
            let c = &mut per_rule[r.pack][r.rule];
            c.hits += 1;
            if post.label {
                c.tp += 1;
            } else {
                c.fp += 1;
            }
        }
        if verdict.flagged != post.label {
            wrong.push((post, verdict));
        }
    }
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    let mut failed_gates = Vec::new();
    if let Some(min) = o.min_precision {
        if precision < min {
            failed_gates.push(format!("precision {precision:.3} is below {min}"));
        }
    }
    if let Some(min) = o.min_recall {
        if recall < min {
            failed_gates.push(format!("recall {recall:.3} is below {min}"));
        }
    }

    if o.json {
        let rules: Vec<Value> = engine
            .packs()
            .iter()
            .enumerate()
            .flat_map(|(p, pack)| {
                let per_rule = &per_rule;
                pack.rules.iter().enumerate().map(move |(r, rule)| {
                    let c = &per_rule[p][r];
                    json!({
                        "pack": pack.id, "rule": rule.id, "category": rule.category,
                        "weight": rule.weight, "enabled": rule.enabled,
                        "hits": c.hits, "true_positives": c.tp, "false_positives": c.fp,
                        "precision": round(ratio(c.tp, c.hits)),
                    })
                })
            })
            .collect();
        let mut report = json!({
            "posts": posts.len(),
            "precision": round(precision), "recall": round(recall), "f1": round(f1),
            "confusion": {"true_positives": tp, "false_positives": fp, "false_negatives": fn_, "true_negatives": tn},
            "rules": rules,
        });
        if o.show {
            let list = |want_label: bool| -> Vec<Value> {
                wrong
                    .iter()
                    .filter(|(p, _)| p.label == want_label)
                    .map(|(p, v)| verdict_json(&engine, &json!(p.line), &p.text, v))
                    .collect()
            };
            report["false_positives"] = Value::Array(list(false));
            report["false_negatives"] = Value::Array(list(true));
        }
        say!("{report}");
    } else {
        say!("{} labelled posts from {path}", posts.len());
        say!("precision {precision:.3}  recall {recall:.3}  F1 {f1:.3}");
        say!(
            "true positives {tp}  false positives {fp}  false negatives {fn_}  true negatives {tn}"
        );
        say!();
        let width = engine
            .packs()
            .iter()
            .flat_map(|p| p.rules.iter().map(|r| r.id.len()))
            .max()
            .unwrap_or(4)
            .max(4);
        say!(
            "{:<width$}  {:<20} {:>6} {:>5} {:>5} {:>9}",
            "rule",
            "category",
            "weight",
            "hits",
            "TP",
            "FP"
        );
        for (p, pack) in engine.packs().iter().enumerate() {
            for (r, rule) in pack.rules.iter().enumerate() {
                let c = &per_rule[p][r];
                let off = if rule.enabled { "" } else { "  (off)" };
                say!(
                    "{:<width$}  {:<20} {:>6} {:>5} {:>5} {:>9}{off}",
                    rule.id,
                    rule.category,
                    rule.weight,
                    c.hits,
                    c.tp,
                    c.fp
                );
            }
        }
        if o.show {
            for (title, label) in [("False positives", false), ("False negatives", true)] {
                let list: Vec<_> = wrong.iter().filter(|(p, _)| p.label == label).collect();
                say!("\n{title} ({}):", list.len());
                for (post, verdict) in list {
                    let rules: Vec<&str> = verdict.rules.iter().map(|r| r.id.as_str()).collect();
                    say!(
                        "  line {}: score {} [{}]\n    {}",
                        post.line,
                        round(verdict.score),
                        rules.join(", "),
                        shorten(&post.text, 240)
                    );
                }
            }
        }
    }
    for gate in &failed_gates {
        eprintln!("flagpost: {gate}");
    }
    Ok(if failed_gates.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

// ---- test and lint ----

/// A pack file's name and what parsing it gave.
type ParsedFile = (String, Result<RulePack, String>);

fn parse_files(files: &[String]) -> Result<Vec<ParsedFile>, Fatal> {
    if files.is_empty() {
        return Err(Fatal("name at least one pack file".to_string()));
    }
    files
        .iter()
        .map(|f| {
            let source = read_file(f)?;
            let parsed =
                parse_pack(&source, PackFormat::from_name(f), f).map_err(|e| e.to_string());
            Ok((f.clone(), parsed))
        })
        .collect()
}

fn test(args: &[String]) -> Outcome {
    let o = parse_options(args, &[])?;
    let (mut passed, mut failed) = (0, 0);
    for (file, parsed) in parse_files(&o.files)? {
        let pack = match parsed {
            Ok(p) => p,
            Err(e) => {
                say!("{e}");
                say!("{file}: refused; no examples run");
                failed += 1;
                continue;
            }
        };
        let report = match run_examples(&pack) {
            Ok(r) => r,
            Err(e) => {
                say!("{e}");
                failed += 1;
                continue;
            }
        };
        for f in &report.failures {
            let owner = match &f.rule {
                Some(rule) => format!("rule `{rule}`"),
                None => "pack".to_string(),
            };
            let kind = if f.expect_flag {
                "must flag"
            } else {
                "must not flag"
            };
            say!(
                "FAIL {file}: {owner}: {kind}: \"{}\"\n     {}",
                shorten(&f.text, 160),
                f.message
            );
        }
        say!(
            "{file}: {} examples, {} passed, {} failed",
            report.passed + report.failures.len(),
            report.passed,
            report.failures.len()
        );
        passed += report.passed;
        failed += report.failures.len();
    }
    say!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn lint(args: &[String]) -> Outcome {
    let o = parse_options(args, &[])?;
    let mut ok = true;
    let mut packs = Vec::new();
    for (file, parsed) in parse_files(&o.files)? {
        match parsed {
            Ok(pack) => {
                for w in &pack.warnings {
                    say!("warning: {w}");
                }
                match Engine::compile(std::slice::from_ref(&pack), &EngineOptions::default()) {
                    Ok(engine) => {
                        let info = &engine.packs()[0];
                        say!(
                            "{file}: ok — pack `{}` {} ({} rules, {} signals, {} warnings)",
                            info.id,
                            info.version,
                            info.rules.len(),
                            pack.signals.len(),
                            pack.warnings.len()
                        );
                        packs.push(pack);
                    }
                    Err(e) => {
                        say!("{e}");
                        ok = false;
                    }
                }
            }
            Err(e) => {
                say!("{e}");
                ok = false;
            }
        }
    }
    if ok && packs.len() > 1 {
        if let Err(e) = Engine::compile(&packs, &EngineOptions::default()) {
            say!("{e}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

// ---- bench ----

fn median_or_nan(xs: Vec<f64>) -> Value {
    if xs.is_empty() {
        Value::Null
    } else {
        json!(round(median(xs)))
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn peak_memory_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A pack of `phrases` phrases and `regexes` regexes over made-up words, for compile timing.
fn generated_pack(phrases: usize, regexes: usize) -> String {
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

fn bench(args: &[String]) -> Outcome {
    let o = parse_options(
        args,
        &["--pack", "--runs", "--threads", "--json", "--scan-only"],
    )?;
    if o.files.is_empty() {
        return Err(Fatal(
            "bench needs one or more JSON Lines files of posts".to_string(),
        ));
    }
    let runs = o.runs.unwrap_or(5);
    let mut texts = Vec::new();
    for f in &o.files {
        for (k, line) in read_file(f)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (_, text) = parse_post(line, k + 1).map_err(|e| Fatal(format!("{f}: {e}")))?;
            texts.push(text.as_str().unwrap_or_default().to_string());
        }
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let packs = load_packs(&o.packs)?;

    let compile_runs = if o.scan_only { 1 } else { runs.max(5) };
    let mut compile_ms = Vec::new();
    for _ in 0..compile_runs {
        let t = Instant::now();
        let engine = compile(&packs)?;
        compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(engine);
    }
    let generated = generated_pack(3000, 300);
    let compile_runs = if o.scan_only { 0 } else { compile_runs };
    let mut generated_parse_ms = Vec::new();
    let mut generated_compile_ms = Vec::new();
    for _ in 0..compile_runs {
        let t = Instant::now();
        let pack = parse_pack(&generated, PackFormat::Toml, "generated.toml")
            .map_err(|e| Fatal(e.to_string()))?;
        generated_parse_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let engine = compile(&[pack])?;
        generated_compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(engine);
    }

    let engine = compile(&packs)?;
    let mut scratch = Scratch::default();
    let mut flagged = 0;
    for t in &texts {
        flagged += usize::from(engine.scan(t, &mut scratch).flagged);
    }
    let mut single = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for text in &texts {
            std::hint::black_box(engine.scan(text, &mut scratch));
        }
        single.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    let threads = o
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut multi = Vec::new();
    for _ in 0..if o.scan_only { 1 } else { runs } {
        let t = Instant::now();
        std::thread::scope(|s| {
            for chunk in texts.chunks(texts.len().div_ceil(threads)) {
                let engine = &engine;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    for text in chunk {
                        std::hint::black_box(engine.scan(text, &mut scratch));
                    }
                });
            }
        });
        multi.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    let report = json!({
        "posts": texts.len(),
        "megabytes": round(bytes as f64 / 1e6),
        "flagged": flagged,
        "runs": runs,
        "threads": threads,
        "single_thread_mb_s": round(median(single)),
        "all_threads_mb_s": round(median(multi)),
        "compile_shipped_ms": round(median(compile_ms)),
        "parse_generated_ms": median_or_nan(generated_parse_ms),
        "compile_generated_ms": median_or_nan(generated_compile_ms),
        "peak_memory_kib": peak_memory_kib(),
    });
    if o.json {
        say!("{report}");
    } else {
        say!(
            "{} posts, {:.1} MB, {} flagged\n\
             scan, 1 thread:        {:.1} MB/s (median of {runs})\n\
             scan, {threads} threads:       {:.1} MB/s\n\
             compile shipped packs: {:.2} ms\n\
             generated pack (3,000 phrases, 300 regexes): parse {:.2} ms, compile {:.2} ms\n\
             peak memory:           {} KiB",
            texts.len(),
            bytes as f64 / 1e6,
            flagged,
            report["single_thread_mb_s"],
            report["all_threads_mb_s"],
            report["compile_shipped_ms"],
            report["parse_generated_ms"],
            report["compile_generated_ms"],
            report["peak_memory_kib"],
        );
    }
    Ok(ExitCode::SUCCESS)
}
