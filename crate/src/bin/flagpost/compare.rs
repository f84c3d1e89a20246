//! `flagpost compare`: what a pack change does, before it ships. Scans labelled rows and
//! unlabelled corpora with the old and the new packs and reports which posts start and stop
//! being flagged (with the rules that fired on each side), precision and recall before and
//! after, and each rule's hits before and after; gates for CI fail the command when the new
//! pack loses recall or adds flags beyond the limits given.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::process::ExitCode;

use flagpost::labelled::{Confusion, RowFilter};
use flagpost::{Engine, Scratch, Verdict};
use serde_json::{json, Value};

use crate::common::{
    compile, load_packs, note, parse_post, read_rows, round, say, shorten, status, Fatal, Outcome,
    PostLine,
};
use crate::eval::confusion_json;

#[derive(clap::Args)]
pub struct Args {
    /// The pack before the change (TOML or JSON).
    #[arg(value_name = "OLD")]
    old: Option<String>,
    /// The pack after the change.
    #[arg(value_name = "NEW")]
    new: Option<String>,
    /// Another pack on the old side, for a set of packs; repeatable.
    #[arg(long = "old", value_name = "FILE")]
    old_more: Vec<String>,
    /// Another pack on the new side, for a set of packs; repeatable.
    #[arg(long = "new", value_name = "FILE")]
    new_more: Vec<String>,
    /// Labelled JSON Lines (`text`, `label` true/false or 1/0, optional `context`): precision
    /// and recall before and after; repeatable.
    #[arg(long = "labelled", value_name = "FILE")]
    labelled: Vec<String>,
    /// Keep only labelled rows where FIELD has VALUE (or, with `!=`, does not); repeatable.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    filters: Vec<RowFilter>,
    /// Unlabelled posts as JSON Lines (`text`, optional `id` and `context`), read as a
    /// stream; gzip-compressed files are read as they are; `-` reads standard input;
    /// repeatable.
    #[arg(long = "posts", value_name = "FILE")]
    posts: Vec<String>,
    /// Posts listed for each kind of change in the readable report (--json lists them all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    show: usize,
    /// Worker threads for --posts (default: one per core).
    #[arg(long, value_name = "N", value_parser = crate::threads)]
    threads: Option<usize>,
    /// One JSON report instead of text.
    #[arg(long)]
    json: bool,
    /// Fail (exit 1) when recall on the labelled rows falls by more than X (0.02: two
    /// points); needs --labelled.
    #[arg(long, value_name = "X", value_parser = fraction)]
    max_recall_loss: Option<f64>,
    /// Fail (exit 1) when precision on the labelled rows falls by more than X; needs
    /// --labelled.
    #[arg(long, value_name = "X", value_parser = fraction)]
    max_precision_loss: Option<f64>,
    /// Fail (exit 1) when more than N posts start being flagged that are not labelled as
    /// recruitment (every --posts post, and labelled rows with label false).
    #[arg(long, value_name = "N")]
    max_new_flags: Option<usize>,
    /// Fail (exit 1) when the posts that start being flagged are more than this share of
    /// the posts not labelled as recruitment (0.0001: one in 10,000).
    #[arg(long, value_name = "X", value_parser = fraction)]
    max_new_flag_rate: Option<f64>,
}

/// A share from 0 to 1.
fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

/// Lines read before they are shared out to the worker threads.
const BATCH_LINES: usize = 4096;

/// One side's verdict on a post, reduced to what a comparison needs.
#[derive(Clone, Debug, PartialEq)]
struct Side {
    flagged: bool,
    score: f64,
    /// Indices into [`RuleTable::keys`], in the order the rules fired.
    rules: Vec<u32>,
}

/// Every rule of either side, matched by pack id and rule id.
struct RuleTable {
    keys: Vec<RuleKey>,
    /// For each side, pack index then rule index → table index.
    old: Vec<Vec<u32>>,
    new: Vec<Vec<u32>>,
}

struct RuleKey {
    pack: String,
    rule: String,
    category: String,
    in_old: bool,
    in_new: bool,
    /// The rule id alone names it (no other pack has a rule of that id).
    unique: bool,
}

impl RuleKey {
    fn name(&self) -> String {
        if self.unique {
            self.rule.clone()
        } else {
            format!("{}/{}", self.pack, self.rule)
        }
    }
}

impl RuleTable {
    fn new(old: &Engine, new: &Engine) -> Self {
        let mut keys: Vec<RuleKey> = Vec::new();
        let mut index: HashMap<(String, String), u32> = HashMap::new();
        let mut map_side = |engine: &Engine, is_old: bool, keys: &mut Vec<RuleKey>| {
            engine
                .packs()
                .iter()
                .map(|pack| {
                    pack.rules
                        .iter()
                        .map(|rule| {
                            let k = (pack.id.clone(), rule.id.clone());
                            let i = *index.entry(k).or_insert_with(|| {
                                keys.push(RuleKey {
                                    pack: pack.id.clone(),
                                    rule: rule.id.clone(),
                                    category: rule.category.clone(),
                                    in_old: false,
                                    in_new: false,
                                    unique: true,
                                });
                                (keys.len() - 1) as u32
                            });
                            if is_old {
                                keys[i as usize].in_old = true;
                            } else {
                                keys[i as usize].in_new = true;
                            }
                            i
                        })
                        .collect()
                })
                .collect()
        };
        let old = map_side(old, true, &mut keys);
        let new = map_side(new, false, &mut keys);
        let mut count: HashMap<String, usize> = HashMap::new();
        for k in &keys {
            *count.entry(k.rule.clone()).or_default() += 1;
        }
        for k in &mut keys {
            k.unique = count[&k.rule] == 1;
        }
        RuleTable { keys, old, new }
    }

    fn side(&self, verdict: &Verdict, is_old: bool) -> Side {
        let map = if is_old { &self.old } else { &self.new };
        Side {
            flagged: verdict.flagged,
            score: verdict.score,
            rules: verdict.rules.iter().map(|r| map[r.pack][r.rule]).collect(),
        }
    }

    fn names(&self, rules: &[u32]) -> Vec<String> {
        rules
            .iter()
            .map(|&r| self.keys[r as usize].name())
            .collect()
    }
}

/// Both engines and the rule table that joins them.
struct Pair {
    old: Engine,
    new: Engine,
    table: RuleTable,
}

impl Pair {
    fn scan(
        &self,
        text: &str,
        context: Option<&str>,
        scratch: &mut (Scratch, Scratch),
    ) -> (Side, Side) {
        let before = self.old.scan_in_context(text, context, &mut scratch.0);
        let after = self.new.scan_in_context(text, context, &mut scratch.1);
        (
            self.table.side(&before, true),
            self.table.side(&after, false),
        )
    }
}

/// A post whose verdict differs between the two sides.
struct Change {
    id: Value,
    file: String,
    line: usize,
    label: Option<bool>,
    text: String,
    context: Option<String>,
    before: Side,
    after: Side,
}

impl Change {
    fn kind(&self) -> Kind {
        match (self.before.flagged, self.after.flagged) {
            (false, true) => Kind::Started,
            (true, false) => Kind::Stopped,
            (true, true) if sorted(&self.before.rules) != sorted(&self.after.rules) => {
                Kind::OtherRules
            }
            _ => Kind::Other,
        }
    }

    /// The id, or `file:line` when the post has none.
    fn name(&self) -> String {
        match &self.id {
            Value::Null => format!("{}:{}", self.file, self.line),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Flagged by the new side only.
    Started,
    /// Flagged by the old side only.
    Stopped,
    /// Flagged by both, with different rules.
    OtherRules,
    /// Flagged or not alike, with a different score or rules below the threshold.
    Other,
}

fn sorted(rules: &[u32]) -> Vec<u32> {
    let mut v = rules.to_vec();
    v.sort_unstable();
    v
}

/// Counts over every post compared.
struct Tally {
    posts: usize,
    flagged_before: usize,
    flagged_after: usize,
    /// Posts not labelled as recruitment, and how many of them started being flagged.
    not_positive: usize,
    new_flags: usize,
    labelled_before: Confusion,
    labelled_after: Confusion,
    labelled_files: usize,
    posts_files: usize,
    unlabelled: usize,
    unlabelled_flagged_before: usize,
    unlabelled_flagged_after: usize,
    hits_before: Vec<usize>,
    hits_after: Vec<usize>,
    /// Per rule, hits on labelled positives and negatives: (tp, fp) before and after.
    labelled_hits_before: Vec<(usize, usize)>,
    labelled_hits_after: Vec<(usize, usize)>,
    changes: Vec<Change>,
}

impl Tally {
    fn new(rules: usize) -> Self {
        Tally {
            posts: 0,
            flagged_before: 0,
            flagged_after: 0,
            not_positive: 0,
            new_flags: 0,
            labelled_before: Confusion::default(),
            labelled_after: Confusion::default(),
            labelled_files: 0,
            posts_files: 0,
            unlabelled: 0,
            unlabelled_flagged_before: 0,
            unlabelled_flagged_after: 0,
            hits_before: vec![0; rules],
            hits_after: vec![0; rules],
            labelled_hits_before: vec![(0, 0); rules],
            labelled_hits_after: vec![(0, 0); rules],
            changes: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        id: Value,
        file: &str,
        line: usize,
        label: Option<bool>,
        text: String,
        context: Option<String>,
        before: Side,
        after: Side,
    ) {
        self.posts += 1;
        self.flagged_before += usize::from(before.flagged);
        self.flagged_after += usize::from(after.flagged);
        if label != Some(true) {
            self.not_positive += 1;
            if after.flagged && !before.flagged {
                self.new_flags += 1;
            }
        }
        match label {
            Some(label) => {
                self.labelled_before.add(before.flagged, label);
                self.labelled_after.add(after.flagged, label);
            }
            None => {
                self.unlabelled += 1;
                self.unlabelled_flagged_before += usize::from(before.flagged);
                self.unlabelled_flagged_after += usize::from(after.flagged);
            }
        }
        for (side, hits, labelled) in [
            (
                &before,
                &mut self.hits_before,
                &mut self.labelled_hits_before,
            ),
            (&after, &mut self.hits_after, &mut self.labelled_hits_after),
        ] {
            for &r in &side.rules {
                hits[r as usize] += 1;
                match label {
                    Some(true) => labelled[r as usize].0 += 1,
                    Some(false) => labelled[r as usize].1 += 1,
                    None => {}
                }
            }
        }
        if before != after {
            self.changes.push(Change {
                id,
                file: file.to_string(),
                line,
                label,
                text,
                context,
                before,
                after,
            });
        }
    }

    fn count(&self, kind: Kind) -> usize {
        self.changes.iter().filter(|c| c.kind() == kind).count()
    }
}

pub fn run(a: Args) -> Outcome {
    let old_paths: Vec<String> = a.old.iter().chain(&a.old_more).cloned().collect();
    let new_paths: Vec<String> = a.new.iter().chain(&a.new_more).cloned().collect();
    if old_paths.is_empty() || new_paths.is_empty() {
        return Err(Fatal(
            "name the packs to compare: flagpost compare OLD NEW (or --old FILE… --new FILE…)"
                .to_string(),
        ));
    }
    if a.labelled.is_empty() && a.posts.is_empty() {
        return Err(Fatal(
            "nothing to compare on: pass --labelled FILE or --posts FILE".to_string(),
        ));
    }
    if a.labelled.is_empty() {
        for (given, flag) in [
            (a.max_recall_loss.is_some(), "--max-recall-loss"),
            (a.max_precision_loss.is_some(), "--max-precision-loss"),
        ] {
            if given {
                return Err(Fatal(format!(
                    "{flag} needs labelled rows: pass --labelled FILE"
                )));
            }
        }
    }
    if a.posts.iter().filter(|p| p.as_str() == "-").count() > 1 {
        return Err(Fatal("--posts - can be given once".to_string()));
    }
    let old = compile(&load_packs(&old_paths)?)?;
    let new = compile(&load_packs(&new_paths)?)?;
    let table = RuleTable::new(&old, &new);
    let pair = Pair { old, new, table };
    let mut tally = Tally::new(pair.table.keys.len());

    if !a.labelled.is_empty() {
        let rows = read_rows(&a.labelled, &a.filters)?;
        tally.labelled_files = a.labelled.len();
        let mut scratch = Default::default();
        for row in rows {
            let (before, after) =
                pair.scan(&row.post.text, row.post.context.as_deref(), &mut scratch);
            let id = row.post.fields.get("id").cloned().unwrap_or(Value::Null);
            tally.add(
                id,
                &row.file,
                row.post.line,
                Some(row.post.label),
                row.post.text,
                row.post.context,
                before,
                after,
            );
        }
    }
    let threads = a.threads.unwrap_or_else(crate::cores);
    for path in &a.posts {
        compare_posts(&pair, path, threads, &mut tally)?;
    }
    tally.posts_files = a.posts.len();

    let gates = gates(&a, &tally);
    if a.json {
        say!(
            "{}",
            report_json(&pair, &old_paths, &new_paths, &tally, &gates)
        );
    } else {
        report_text(&pair, &old_paths, &new_paths, &tally, &gates, a.show);
    }
    let failed: Vec<&Gate> = gates.iter().filter(|g| !g.passed).collect();
    for g in &failed {
        note(&format!("flagpost: {}", g.describe()));
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        status(false)
    })
}

/// Opens a posts file: `-` is standard input; gzip data (by its magic bytes) is decompressed.
fn open_posts(path: &str) -> Result<Box<dyn BufRead>, Fatal> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Fatal(format!("cannot read {path}: {e}")))?)
    };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let head = reader
        .fill_buf()
        .map_err(|e| Fatal(format!("cannot read {path}: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Streams one posts file through both engines, a batch at a time on `threads` threads;
/// memory stays constant but for the posts whose verdicts differ.
fn compare_posts(pair: &Pair, path: &str, threads: usize, tally: &mut Tally) -> Result<(), Fatal> {
    let name = if path == "-" { "standard input" } else { path };
    let mut reader = open_posts(path)?;
    let mut scratches: Vec<(Scratch, Scratch)> = (0..threads).map(|_| Default::default()).collect();
    let mut line_no = 0;
    let mut done = false;
    let progress = crate::common::Progress::new(None, "posts compared");
    while !done {
        let mut batch: Vec<(usize, String)> = Vec::with_capacity(BATCH_LINES);
        while batch.len() < BATCH_LINES {
            let mut buf = String::new();
            match reader.read_line(&mut buf) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(_) => {
                    line_no += 1;
                    if !buf.trim().is_empty() {
                        batch.push((line_no, buf));
                    }
                }
                Err(e) => {
                    return Err(Fatal(format!(
                        "cannot read {name} at line {}: {e}",
                        line_no + 1
                    )))
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        progress.add(batch.len() as u64);
        type Item = Result<(usize, PostLine, Side, Side), String>;
        let work = |lines: &[(usize, String)], scratch: &mut (Scratch, Scratch)| -> Vec<Item> {
            lines
                .iter()
                .map(|(n, line)| {
                    let post = parse_post(line, *n)?;
                    let (before, after) = pair.scan(&post.text, post.context.as_deref(), scratch);
                    Ok((*n, post, before, after))
                })
                .collect()
        };
        let results: Vec<Item> = if threads == 1 || batch.len() < 2 * threads {
            work(&batch, &mut scratches[0])
        } else {
            let chunk = batch.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .chunks(chunk)
                    .zip(scratches.iter_mut())
                    .map(|(lines, scratch)| s.spawn(move || work(lines, scratch)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("compare worker"))
                    .collect()
            })
        };
        for item in results {
            let (n, post, before, after) = item.map_err(|e| Fatal(format!("{name}: {e}")))?;
            tally.add(
                post.id,
                name,
                n,
                None,
                post.text,
                post.context,
                before,
                after,
            );
        }
    }
    progress.done();
    Ok(())
}

/// A limit from the command line and how the comparison stands against it.
struct Gate {
    flag: &'static str,
    limit: f64,
    value: f64,
    passed: bool,
}

impl Gate {
    fn describe(&self) -> String {
        let what = match self.flag {
            "--max-recall-loss" => format!("recall fell by {:.4}", self.value),
            "--max-precision-loss" => format!("precision fell by {:.4}", self.value),
            "--max-new-flags" => format!("{} posts started being flagged", self.value),
            _ => format!(
                "{:.6} of the posts not labelled as recruitment started being flagged",
                self.value
            ),
        };
        let verdict = if self.passed { "within" } else { "more than" };
        format!("{what}: {verdict} {} {}", self.flag, self.limit)
    }
}

fn gates(a: &Args, t: &Tally) -> Vec<Gate> {
    // Differences of ratios carry rounding error; a loss must be real to count.
    const EPS: f64 = 1e-9;
    let mut out = Vec::new();
    if let Some(limit) = a.max_recall_loss {
        let value = (t.labelled_before.recall() - t.labelled_after.recall()).max(0.0);
        out.push(Gate {
            flag: "--max-recall-loss",
            limit,
            value: round(value),
            passed: value <= limit + EPS,
        });
    }
    if let Some(limit) = a.max_precision_loss {
        let value = (t.labelled_before.precision() - t.labelled_after.precision()).max(0.0);
        out.push(Gate {
            flag: "--max-precision-loss",
            limit,
            value: round(value),
            passed: value <= limit + EPS,
        });
    }
    if let Some(limit) = a.max_new_flags {
        out.push(Gate {
            flag: "--max-new-flags",
            limit: limit as f64,
            value: t.new_flags as f64,
            passed: t.new_flags <= limit,
        });
    }
    if let Some(limit) = a.max_new_flag_rate {
        let value = if t.not_positive == 0 {
            0.0
        } else {
            t.new_flags as f64 / t.not_positive as f64
        };
        out.push(Gate {
            flag: "--max-new-flag-rate",
            limit,
            value,
            passed: value <= limit + EPS,
        });
    }
    out
}

fn packs_json(engine: &Engine, paths: &[String]) -> Value {
    Value::Array(
        engine
            .packs()
            .iter()
            .zip(paths)
            .map(|(p, file)| {
                json!({"file": file, "id": p.id, "version": p.version,
                       "rules": p.rules.len(), "threshold": p.threshold})
            })
            .collect(),
    )
}

fn side_json(table: &RuleTable, s: &Side) -> Value {
    json!({"flagged": s.flagged, "score": round(s.score), "rules": table.names(&s.rules)})
}

fn side_measures(c: &Confusion) -> Value {
    json!({"precision": round(c.precision()), "recall": round(c.recall()), "f1": round(c.f1()),
           "confusion": confusion_json(c)})
}

fn report_json(
    pair: &Pair,
    old_paths: &[String],
    new_paths: &[String],
    t: &Tally,
    gates: &[Gate],
) -> Value {
    let table = &pair.table;
    let changes = |kind: Kind| -> Value {
        Value::Array(
            t.changes
                .iter()
                .filter(|c| c.kind() == kind)
                .map(|c| {
                    let mut v = json!({
                        "id": c.id, "file": c.file, "line": c.line, "label": c.label,
                        "text": c.text,
                        "before": side_json(table, &c.before),
                        "after": side_json(table, &c.after),
                    });
                    if let Some(context) = &c.context {
                        v["context"] = json!(context);
                    }
                    v
                })
                .collect(),
        )
    };
    let rules: Vec<Value> = table
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut v = json!({
                "pack": k.pack, "rule": k.rule, "category": k.category,
                "in_old": k.in_old, "in_new": k.in_new,
                "hits_before": t.hits_before[i], "hits_after": t.hits_after[i],
                "change": t.hits_after[i] as i64 - t.hits_before[i] as i64,
            });
            if t.labelled_files > 0 {
                v["true_positives_before"] = json!(t.labelled_hits_before[i].0);
                v["true_positives_after"] = json!(t.labelled_hits_after[i].0);
                v["false_positives_before"] = json!(t.labelled_hits_before[i].1);
                v["false_positives_after"] = json!(t.labelled_hits_after[i].1);
            }
            v
        })
        .collect();
    let labelled = if t.labelled_files > 0 {
        json!({
            "posts": t.labelled_before.total(),
            "positives": t.labelled_before.positives(),
            "before": side_measures(&t.labelled_before),
            "after": side_measures(&t.labelled_after),
            "precision_change": round(t.labelled_after.precision() - t.labelled_before.precision()),
            "recall_change": round(t.labelled_after.recall() - t.labelled_before.recall()),
        })
    } else {
        Value::Null
    };
    let unlabelled = if t.posts_files > 0 {
        json!({"posts": t.unlabelled, "flagged_before": t.unlabelled_flagged_before,
               "flagged_after": t.unlabelled_flagged_after})
    } else {
        Value::Null
    };
    json!({
        "old": packs_json(&pair.old, old_paths),
        "new": packs_json(&pair.new, new_paths),
        "posts": t.posts,
        "flagged_before": t.flagged_before,
        "flagged_after": t.flagged_after,
        "started": t.count(Kind::Started),
        "stopped": t.count(Kind::Stopped),
        "other_rules": t.count(Kind::OtherRules),
        "changed": t.changes.len(),
        "new_flags": t.new_flags,
        "not_labelled_positive": t.not_positive,
        "labelled": labelled,
        "unlabelled": unlabelled,
        "rules": rules,
        "changes": {
            "started": changes(Kind::Started),
            "stopped": changes(Kind::Stopped),
            "other_rules": changes(Kind::OtherRules),
            "other": changes(Kind::Other),
        },
        "gates": gates.iter().map(|g| json!({"gate": g.flag, "limit": g.limit,
            "value": g.value, "passed": g.passed})).collect::<Vec<_>>(),
        "ok": gates.iter().all(|g| g.passed),
    })
}

fn describe_packs(engine: &Engine, paths: &[String]) -> String {
    engine
        .packs()
        .iter()
        .zip(paths)
        .map(|(p, file)| format!("{file} ({} {}, {} rules)", p.id, p.version, p.rules.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report_text(
    pair: &Pair,
    old_paths: &[String],
    new_paths: &[String],
    t: &Tally,
    gates: &[Gate],
    show: usize,
) {
    let table = &pair.table;
    say!("old: {}", describe_packs(&pair.old, old_paths));
    say!("new: {}", describe_packs(&pair.new, new_paths));
    if t.labelled_files > 0 {
        let (b, n) = (&t.labelled_before, &t.labelled_after);
        say!(
            "\n{} labelled posts ({} recruitment):",
            b.total(),
            b.positives()
        );
        say!(
            "{:<8} {:>9} {:>7} {:>6} {:>5} {:>5} {:>5} {:>5}",
            "",
            "precision",
            "recall",
            "F1",
            "TP",
            "FP",
            "FN",
            "TN"
        );
        for (name, c) in [("before", b), ("after", n)] {
            say!(
                "{:<8} {:>9.3} {:>7.3} {:>6.3} {:>5} {:>5} {:>5} {:>5}",
                name,
                c.precision(),
                c.recall(),
                c.f1(),
                c.tp,
                c.fp,
                c.fn_,
                c.tn
            );
        }
        say!(
            "{:<8} {:>+9.3} {:>+7.3} {:>+6.3}",
            "change",
            n.precision() - b.precision(),
            n.recall() - b.recall(),
            n.f1() - b.f1()
        );
    }
    if t.unlabelled > 0 {
        say!(
            "\n{} unlabelled posts: {} flagged before, {} after",
            t.unlabelled,
            t.unlabelled_flagged_before,
            t.unlabelled_flagged_after
        );
    }
    say!();
    if t.changes.is_empty() {
        say!(
            "no change: every one of the {} posts has the same verdict, score and rules on both sides ({} flagged)",
            t.posts,
            t.flagged_before
        );
    } else {
        let other = t.count(Kind::Other);
        say!(
            "{} of {} posts changed: {} started being flagged, {} stopped, {} flagged by other rules{}",
            t.changes.len(),
            t.posts,
            t.count(Kind::Started),
            t.count(Kind::Stopped),
            t.count(Kind::OtherRules),
            if other > 0 {
                format!(", {other} with another score or rules below the threshold")
            } else {
                String::new()
            }
        );
        say!(
            "flagged: {} before, {} after",
            t.flagged_before,
            t.flagged_after
        );
    }
    for (title, kind) in [
        ("Started being flagged", Kind::Started),
        ("Stopped being flagged", Kind::Stopped),
        ("Flagged by other rules", Kind::OtherRules),
    ] {
        let list: Vec<&Change> = t.changes.iter().filter(|c| c.kind() == kind).collect();
        if list.is_empty() {
            continue;
        }
        say!("\n{title} ({}):", list.len());
        for c in list.iter().take(show) {
            let label = match c.label {
                Some(true) => " [labelled recruitment]",
                Some(false) => " [labelled not recruitment]",
                None => "",
            };
            let rules = |s: &Side| -> String {
                if s.rules.is_empty() {
                    "no rule".to_string()
                } else {
                    table.names(&s.rules).join(", ")
                }
            };
            say!(
                "  {}{label}: score {} → {}\n    before: {}\n    after:  {}\n    {}",
                c.name(),
                round(c.before.score),
                round(c.after.score),
                rules(&c.before),
                rules(&c.after),
                shorten(&c.text, 200)
            );
        }
        if list.len() > show {
            say!(
                "  … and {} more (--show N lists more, --json lists all)",
                list.len() - show
            );
        }
    }
    let changed: Vec<usize> = (0..table.keys.len())
        .filter(|&i| {
            t.hits_before[i] != t.hits_after[i] || !table.keys[i].in_old || !table.keys[i].in_new
        })
        .collect();
    if changed.is_empty() {
        say!(
            "\nper rule: no rule's hits changed ({} rules)",
            table.keys.len()
        );
    } else {
        let width = changed
            .iter()
            .map(|&i| table.keys[i].name().chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        say!(
            "\nrules whose hits changed (hits: posts a rule fired on; {} others unchanged):",
            table.keys.len() - changed.len()
        );
        let labelled = t.labelled_files > 0;
        say!(
            "{:<width$} {:>7} {:>7} {:>7}{}",
            "rule",
            "before",
            "after",
            "change",
            if labelled {
                "  TP before→after  FP before→after"
            } else {
                ""
            }
        );
        for i in changed {
            let k = &table.keys[i];
            let note = match (k.in_old, k.in_new) {
                (true, false) => "  (removed)",
                (false, true) => "  (added)",
                _ => "",
            };
            let lab = if labelled {
                let (b, a) = (t.labelled_hits_before[i], t.labelled_hits_after[i]);
                format!("  {:>7}→{:<7}  {:>7}→{:<7}", b.0, a.0, b.1, a.1)
            } else {
                String::new()
            };
            say!(
                "{:<width$} {:>7} {:>7} {:>+7}{lab}{note}",
                k.name(),
                t.hits_before[i],
                t.hits_after[i],
                t.hits_after[i] as i64 - t.hits_before[i] as i64
            );
        }
    }
    if !gates.is_empty() {
        say!();
        for g in gates {
            say!(
                "{} {}",
                if g.passed { "pass:" } else { "FAIL:" },
                g.describe()
            );
        }
    }
}
