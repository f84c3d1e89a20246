//! `flagpost eval`: precision, recall and a per-rule table on labelled posts; per fold of
//! sources, per kind and per language.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use flagpost::labelled::{assign_folds, confusion_by, group_key, Confusion, RowFilter};
use flagpost::{Engine, Scratch, Verdict};
use serde_json::{json, Value};

use crate::common::{
    compile, load_packs, note, read_rows, round, say, shorten, status, Fatal, Outcome, Row,
};
use crate::scan::verdict_json;

#[derive(clap::Args)]
pub struct Args {
    /// A rule pack; repeat for several. Without it, the shipped packs.
    #[arg(long = "pack", value_name = "FILE")]
    packs: Vec<String>,
    /// Labelled JSON Lines (`text`, `label` true/false or 1/0, optional `context` and any
    /// other fields); repeat to read several files.
    #[arg(long = "labelled", value_name = "FILE", required = true)]
    labelled: Vec<String>,
    /// Keep only rows where FIELD has VALUE (or, with `!=`, does not); repeatable. An
    /// absent field counts as "" and "false".
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    filters: Vec<RowFilter>,
    /// Split the rows into K folds of whole groups (see --group-by) and report each fold.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    folds: u16,
    /// The field that groups rows: rows of one group always share a fold. For `source`, the
    /// group is the site (host of a web address, owner/name of a repository path).
    #[arg(long, value_name = "FIELD", default_value = "source")]
    group_by: String,
    /// Changes which groups land in which fold.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Judge only the rows of this fold (1 to K): the held-out part when the pack was
    /// written from the others.
    #[arg(long, value_name = "N")]
    fold: Option<usize>,
    /// Write each fold's rows as fold-N-train.jsonl (the other folds) and fold-N-test.jsonl
    /// into DIR, to write rules from one part and judge on the other.
    #[arg(long, value_name = "DIR")]
    write_folds: Option<String>,
    /// Tabulate results by the values of FIELD; repeatable. Default: `kind` and `lang` when
    /// the rows have them.
    #[arg(long = "by", value_name = "FIELD")]
    by: Vec<String>,
    /// List the false positives and false negatives with the rules that fired.
    #[arg(long)]
    show: bool,
    /// One JSON report instead of tables.
    #[arg(long)]
    json: bool,
    /// Fail (exit 1) when precision is below X.
    #[arg(long, value_name = "X")]
    min_precision: Option<f64>,
    /// Fail (exit 1) when recall is below X.
    #[arg(long, value_name = "X")]
    min_recall: Option<f64>,
}

#[derive(Default, Clone)]
struct RuleCounts {
    hits: usize,
    tp: usize,
    fp: usize,
}

/// Scans every row with its context.
pub fn verdicts(engine: &Engine, rows: &[Row]) -> Vec<Verdict> {
    let mut scratch = Scratch::default();
    rows.iter()
        .map(|r| engine.scan_in_context(&r.post.text, r.post.context.as_deref(), &mut scratch))
        .collect()
}

pub fn run(a: Args) -> Outcome {
    let engine = compile(&load_packs(&a.packs)?)?;
    let mut rows = read_rows(&a.labelled, &a.filters)?;
    let k = usize::from(a.folds);
    let fold_of = assign_folds(
        &rows.iter().map(|r| r.post.clone()).collect::<Vec<_>>(),
        &a.group_by,
        k,
        a.seed,
    );
    if let Some(dir) = &a.write_folds {
        write_folds(dir, &rows, &fold_of, k)?;
    }
    let mut fold_of = fold_of;
    if let Some(n) = a.fold {
        if n == 0 || n > k {
            return Err(Fatal(format!("--fold {n}: folds are numbered 1 to {k}")));
        }
        let keep: Vec<bool> = fold_of.iter().map(|&f| f == n - 1).collect();
        let mut i = 0;
        rows.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        fold_of.retain(|&f| f == n - 1);
    }
    let verdicts = verdicts(&engine, &rows);
    let flagged: Vec<bool> = verdicts.iter().map(|v| v.flagged).collect();

    let mut total = Confusion::default();
    let mut per_rule: Vec<Vec<RuleCounts>> = engine
        .packs()
        .iter()
        .map(|p| vec![RuleCounts::default(); p.rules.len()])
        .collect();
    let mut per_fold = vec![Confusion::default(); k];
    let mut groups_per_fold: Vec<std::collections::HashSet<String>> = vec![Default::default(); k];
    for ((row, verdict), &fold) in rows.iter().zip(&verdicts).zip(&fold_of) {
        total.add(verdict.flagged, row.post.label);
        per_fold[fold].add(verdict.flagged, row.post.label);
        groups_per_fold[fold].insert(group_key(&row.post, &a.group_by));
        for r in &verdict.rules {
            let c = &mut per_rule[r.pack][r.rule];
            c.hits += 1;
            if row.post.label {
                c.tp += 1;
            } else {
                c.fp += 1;
            }
        }
    }
    let posts: Vec<_> = rows.iter().map(|r| r.post.clone()).collect();
    let by_fields: Vec<String> = if a.by.is_empty() {
        ["kind", "lang"]
            .iter()
            .filter(|f| posts.iter().any(|p| p.fields.contains_key(**f)))
            .map(|f| f.to_string())
            .collect()
    } else {
        a.by.clone()
    };
    let tables: Vec<(String, BTreeMap<String, Confusion>)> = by_fields
        .iter()
        .map(|f| (f.clone(), confusion_by(&posts, &flagged, f)))
        .collect();

    let mut failed_gates = Vec::new();
    if let Some(min) = a.min_precision {
        if total.precision() < min {
            failed_gates.push(format!("precision {:.3} is below {min}", total.precision()));
        }
    }
    if let Some(min) = a.min_recall {
        if total.recall() < min {
            failed_gates.push(format!("recall {:.3} is below {min}", total.recall()));
        }
    }

    let wrong: Vec<usize> = (0..rows.len())
        .filter(|&i| verdicts[i].flagged != rows[i].post.label)
        .collect();
    if a.json {
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
            "posts": rows.len(),
            "precision": round(total.precision()), "recall": round(total.recall()),
            "f1": round(total.f1()),
            "confusion": confusion_json(&total),
            "rules": rules,
        });
        if k > 1 {
            report["folds"] = Value::Array(
                per_fold
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.total() > 0)
                    .map(|(f, c)| {
                        json!({
                            "fold": f + 1, "groups": groups_per_fold[f].len(), "posts": c.total(),
                            "precision": round(c.precision()), "recall": round(c.recall()),
                            "f1": round(c.f1()), "confusion": confusion_json(c),
                        })
                    })
                    .collect(),
            );
            report["group_by"] = json!(a.group_by);
        }
        let mut by = serde_json::Map::new();
        for (field, table) in &tables {
            let mut t = serde_json::Map::new();
            for (value, c) in table {
                t.insert(
                    value.clone(),
                    json!({
                        "posts": c.total(), "positives": c.positives(), "flagged": c.tp + c.fp,
                        "recall": round(c.recall()), "precision": round(c.precision()),
                        "false_positive_rate": round(c.false_positive_rate()),
                    }),
                );
            }
            by.insert(field.clone(), Value::Object(t));
        }
        report["by"] = Value::Object(by);
        if a.show {
            let list = |want_label: bool| -> Vec<Value> {
                wrong
                    .iter()
                    .filter(|&&i| rows[i].post.label == want_label)
                    .map(|&i| {
                        let mut v = verdict_json(
                            &engine,
                            &json!(rows[i].place()),
                            &rows[i].post.text,
                            rows[i].post.context.as_deref(),
                            &verdicts[i],
                        );
                        v["text"] = json!(rows[i].post.text);
                        v
                    })
                    .collect()
            };
            report["false_positives"] = Value::Array(list(false));
            report["false_negatives"] = Value::Array(list(true));
        }
        say!("{report}");
    } else {
        let files = a.labelled.join(", ");
        let filtered = if a.filters.is_empty() {
            String::new()
        } else {
            format!(
                " (where {})",
                a.filters
                    .iter()
                    .map(|f| format!(
                        "{}{}{}",
                        f.field,
                        if f.keep_equal { "=" } else { "!=" },
                        f.value
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let which = a
            .fold
            .map(|n| format!(", fold {n} of {k}"))
            .unwrap_or_default();
        say!(
            "{} labelled posts from {files}{filtered}{which}",
            rows.len()
        );
        say!(
            "precision {:.3}  recall {:.3}  F1 {:.3}",
            total.precision(),
            total.recall(),
            total.f1()
        );
        say!(
            "true positives {}  false positives {}  false negatives {}  true negatives {}",
            total.tp,
            total.fp,
            total.fn_,
            total.tn
        );
        if k > 1 && a.fold.is_none() {
            say!(
                "\nfolds of whole groups by `{}` (seed {}):",
                a.group_by,
                a.seed
            );
            say!(
                "{:>4} {:>6} {:>6} {:>5}  {:>9} {:>6} {:>5}  {:>4} {:>4} {:>4} {:>4}",
                "fold",
                "groups",
                "posts",
                "pos",
                "precision",
                "recall",
                "F1",
                "TP",
                "FP",
                "FN",
                "TN"
            );
            for (f, c) in per_fold.iter().enumerate() {
                say!(
                    "{:>4} {:>6} {:>6} {:>5}  {:>9.3} {:>6.3} {:>5.3}  {:>4} {:>4} {:>4} {:>4}",
                    f + 1,
                    groups_per_fold[f].len(),
                    c.total(),
                    c.positives(),
                    c.precision(),
                    c.recall(),
                    c.f1(),
                    c.tp,
                    c.fp,
                    c.fn_,
                    c.tn
                );
            }
            let (pm, ps) = mean_sd(per_fold.iter().map(Confusion::precision));
            let (rm, rs) = mean_sd(per_fold.iter().map(Confusion::recall));
            say!("mean over folds: precision {pm:.3} ± {ps:.3}, recall {rm:.3} ± {rs:.3}");
        }
        for (field, table) in &tables {
            say!("{}", by_table(field, table));
        }
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
                    round(rule.weight),
                    c.hits,
                    c.tp,
                    c.fp
                );
            }
        }
        if a.show {
            for (title, label) in [("False positives", false), ("False negatives", true)] {
                let list: Vec<usize> = wrong
                    .iter()
                    .copied()
                    .filter(|&i| rows[i].post.label == label)
                    .collect();
                say!("\n{title} ({}):", list.len());
                for i in list {
                    let row = &rows[i];
                    let rules: Vec<&str> =
                        verdicts[i].rules.iter().map(|r| r.id.as_str()).collect();
                    let tags: Vec<String> = ["kind", "lang"]
                        .iter()
                        .filter_map(|f| row.post.field(f))
                        .collect();
                    say!(
                        "  {} [{}]: score {} [{}]\n    {}",
                        row.place(),
                        tags.join(" "),
                        round(verdicts[i].score),
                        rules.join(", "),
                        shorten(&row.post.text, 240)
                    );
                }
            }
        }
    }
    for gate in &failed_gates {
        note(&format!("flagpost: {gate}"));
    }
    Ok(if failed_gates.is_empty() {
        ExitCode::SUCCESS
    } else {
        status(false)
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

pub fn confusion_json(c: &Confusion) -> Value {
    json!({"true_positives": c.tp, "false_positives": c.fp, "false_negatives": c.fn_, "true_negatives": c.tn})
}

pub fn mean_sd(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// A table of outcomes by the values of one field.
pub fn by_table(field: &str, table: &BTreeMap<String, Confusion>) -> String {
    let width = table
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .max(field.len());
    let mut out = format!(
        "\nby {field}:\n{:<width$} {:>6} {:>5} {:>8} {:>7} {:>9} {:>8}",
        field, "posts", "pos", "flagged", "recall", "precision", "FP rate"
    );
    for (value, c) in table {
        let _ = write!(
            out,
            "\n{:<width$} {:>6} {:>5} {:>8} {:>7} {:>9} {:>8}",
            value,
            c.total(),
            c.positives(),
            c.tp + c.fp,
            if c.positives() > 0 {
                format!("{:.3}", c.recall())
            } else {
                "-".to_string()
            },
            if c.tp + c.fp > 0 && c.positives() > 0 {
                format!("{:.3}", c.precision())
            } else {
                "-".to_string()
            },
            if c.negatives() > 0 {
                format!("{:.3}", c.false_positive_rate())
            } else {
                "-".to_string()
            },
        );
    }
    out
}

fn write_folds(dir: &str, rows: &[Row], fold_of: &[usize], k: usize) -> Result<(), Fatal> {
    std::fs::create_dir_all(dir).map_err(|e| Fatal(format!("cannot create {dir}: {e}")))?;
    for f in 0..k {
        let mut train = String::new();
        let mut test = String::new();
        for (row, &fold) in rows.iter().zip(fold_of) {
            let mut v = serde_json::Map::new();
            v.insert("text".into(), json!(row.post.text));
            v.insert("label".into(), json!(u8::from(row.post.label)));
            if let Some(c) = &row.post.context {
                v.insert("context".into(), json!(c));
            }
            for (key, value) in &row.post.fields {
                v.insert(key.clone(), value.clone());
            }
            let line = Value::Object(v).to_string();
            let target = if fold == f { &mut test } else { &mut train };
            target.push_str(&line);
            target.push('\n');
        }
        for (name, body) in [("train", &train), ("test", &test)] {
            let path = format!("{dir}/fold-{}-{name}.jsonl", f + 1);
            std::fs::write(&path, body).map_err(|e| Fatal(format!("cannot write {path}: {e}")))?;
        }
    }
    note(&format!(
        "flagpost: wrote {k} folds to {dir}/fold-N-{{train,test}}.jsonl"
    ));
    Ok(())
}
