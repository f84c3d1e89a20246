//! `flagpost scan`: verdicts for a stream of posts, in order, on every core, in constant
//! memory.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use flagpost::verdict::char_unit;
use flagpost::{Engine, Scratch, Verdict};
use serde_json::{json, Value};

use crate::common::{compile, load_packs, note, parse_post, round, shorten, Fatal, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// A rule pack (TOML or JSON); repeat for several. Without it, the shipped packs.
    #[arg(long = "pack", value_name = "FILE")]
    packs: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = crate::threads)]
    threads: Option<usize>,
    /// Write only the verdicts of flagged posts.
    #[arg(long)]
    flagged_only: bool,
    /// Print flagged posts with their reasons, for people to read, instead of JSON.
    #[arg(long)]
    explain: bool,
}

/// Lines per batch handed to a worker.
const BATCH_LINES: usize = 512;

pub fn run(a: Args) -> Outcome {
    let engine = Arc::new(compile(&load_packs(&a.packs)?)?);
    let threads = a.threads.unwrap_or_else(crate::cores);
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
    let flagged_only = a.flagged_only || a.explain;
    let explain = a.explain;
    for _ in 0..threads {
        let (engine, job_rx, done_tx) = (engine.clone(), job_rx.clone(), done_tx.clone());
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
                            note(&format!("flagpost: {message}"));
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
    tokens: SyncSender<()>,
) -> io::Result<usize> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0;
    let mut bad = 0;
    let progress = crate::common::Progress::new(None, "posts");
    for (seq, text, errors) in done {
        pending.insert(seq, (text, errors));
        while let Some((text, errors)) = pending.remove(&next) {
            if progress.active() {
                progress.add(text.bytes().filter(|&b| b == b'\n').count() as u64);
            }
            out.write_all(text.as_bytes())?;
            bad += errors;
            next += 1;
            let _ = tokens.try_send(());
        }
    }
    progress.done();
    out.flush()?;
    Ok(bad)
}

fn scan_line(
    engine: &Engine,
    scratch: &mut Scratch,
    line: &str,
    line_no: usize,
    explain: bool,
) -> Result<(String, bool), String> {
    let post = parse_post(line, line_no)?;
    let verdict = engine.scan_in_context(&post.text, post.context.as_deref(), scratch);
    let out = if explain {
        explanation(engine, &post.id, line_no, &post.text, &verdict)
    } else {
        verdict_json(
            engine,
            &post.id,
            &post.text,
            post.context.as_deref(),
            &verdict,
        )
        .to_string()
    };
    Ok((out, verdict.flagged))
}

/// A flagged post for people to read: why it fired, rule by rule, with the matched words.
pub fn explanation(
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
        let context = if r.context_spans.is_empty() {
            String::new()
        } else {
            format!(" (and {} in the context)", r.context_spans.len())
        };
        let _ = write!(
            out,
            "  - {} ({}, {}, weight {}): {}\n    matched {}{context}\n",
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

/// The verdict line of the command-line contract, with spans in characters. Context spans,
/// when a rule read the context, go in `context_hits`.
pub fn verdict_json(
    engine: &Engine,
    id: &Value,
    text: &str,
    context: Option<&str>,
    verdict: &Verdict,
) -> Value {
    let mut offsets = Vec::new();
    verdict.span_offsets(text, char_unit, &mut offsets);
    let mut k = 0;
    let mut hits = Vec::new();
    let mut context_hits = Vec::new();
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
        if let Some(context) = context {
            for s in &r.context_spans {
                let start = context[..s.start].chars().count();
                context_hits.push(json!({
                    "rule": r.id,
                    "category": r.category,
                    "start": start,
                    "end": start + context[s.start..s.end].chars().count(),
                    "text": &context[s.start..s.end],
                }));
            }
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
    if !context_hits.is_empty() {
        v["context_hits"] = Value::Array(context_hits);
    }
    if verdict.truncated {
        v["truncated"] = Value::Bool(true);
    }
    v
}
