//! `flagpost tune`: learns rule weights and the threshold from labelled posts (a logistic
//! regression over which rules fired), optionally an n-gram scorer the pack's rules read,
//! reports how each does on folds of sources it was not learned from, and writes the tuned
//! pack.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use flagpost::labelled::{assign_folds, Confusion, RowFilter};
use flagpost::learn::{choose_threshold, curve, fit, FitOptions, Logistic, SparseRow};
use flagpost::model::{feature_keys, FeatureKinds, NgramScorer};
use flagpost::normalize::{normalize_into, Normalized};
use flagpost::{Engine, EngineOptions, ModelDef, PackFormat, RulePack, Scratch};
use serde_json::{json, Value};

use crate::common::{note, parse_source, read_file, read_rows, round, say, Fatal, Outcome, Row};
use crate::eval::confusion_json;

#[derive(clap::Args)]
pub struct Args {
    /// The pack to tune (TOML or JSON).
    #[arg(value_name = "PACK")]
    pack: String,
    /// Labelled JSON Lines; repeat to read several files.
    #[arg(long = "labelled", value_name = "FILE", required = true)]
    labelled: Vec<String>,
    /// Keep only rows where FIELD has VALUE (or, with `!=`, does not); repeatable.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    filters: Vec<RowFilter>,
    /// Folds of whole groups for the held-out figures.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=50))]
    folds: u16,
    /// The field that groups rows (for `source`, the site).
    #[arg(long, value_name = "FIELD", default_value = "source")]
    group_by: String,
    /// Changes which groups land in which fold.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The threshold is the one with the highest recall whose precision on the rows learned
    /// from is at least this.
    #[arg(long, value_name = "X", default_value_t = 0.9)]
    target_precision: f64,
    /// L1 penalty on rule weights (drives weak rules to zero).
    #[arg(long, value_name = "X", default_value_t = 0.002)]
    l1: f64,
    /// L2 penalty on rule weights.
    #[arg(long, value_name = "X", default_value_t = 0.01)]
    l2: f64,
    /// Keep the rule weights as written; learn only the threshold (and the n-gram scorer).
    #[arg(long)]
    keep_weights: bool,
    /// Learn the n-gram scorer NAME (declared in the pack as `[models.NAME]`, which rules
    /// read with `{ model = "NAME", above = P }`).
    #[arg(long, value_name = "NAME")]
    ngrams: Option<String>,
    /// Feature kinds of the scorer: any of `words`, `pairs`, `chars:MIN-MAX`.
    #[arg(long, value_name = "KINDS", default_value = "words,pairs,chars:3-5")]
    ngram_features: String,
    /// L1 penalty of the scorer: higher keeps fewer n-grams.
    #[arg(long, value_name = "X", default_value_t = 0.003)]
    ngram_l1: f64,
    /// L2 penalty of the scorer.
    #[arg(long, value_name = "X", default_value_t = 0.001)]
    ngram_l2: f64,
    /// N-grams seen in fewer training posts than this are not learned.
    #[arg(long, value_name = "N", default_value_t = 2)]
    min_count: usize,
    /// Write the tuned pack here.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<String>,
    /// One JSON report instead of tables.
    #[arg(long)]
    json: bool,
}

fn parse_kinds(s: &str) -> Result<FeatureKinds, Fatal> {
    let mut k = FeatureKinds::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "words" => k.words = true,
            "pairs" => k.pairs = true,
            _ => {
                let range = part.strip_prefix("chars:").ok_or_else(|| {
                    Fatal(format!(
                        "--ngram-features: `{part}` is not words, pairs or chars:MIN-MAX"
                    ))
                })?;
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                let (a, b): (usize, usize) = (
                    a.parse()
                        .map_err(|_| Fatal(format!("--ngram-features: bad `{part}`")))?,
                    b.parse()
                        .map_err(|_| Fatal(format!("--ngram-features: bad `{part}`")))?,
                );
                if !(2 <= a && a <= b && b <= flagpost::model::MAX_CHAR_GRAM) {
                    return Err(Fatal(format!(
                        "--ngram-features: character n-grams must be 2 to {} long",
                        flagpost::model::MAX_CHAR_GRAM
                    )));
                }
                k.chars = (a, b);
            }
        }
    }
    if !k.words && !k.pairs && k.chars.0 == 0 {
        return Err(Fatal("--ngram-features names no kind".to_string()));
    }
    Ok(k)
}

/// Everything learned from one set of rows.
struct Learned {
    model: Option<ModelDef>,
    weights: Logistic,
    /// Probability threshold.
    threshold: f64,
    /// Out-of-fold scorer probabilities of the rows learned from, for its own threshold.
    model_threshold: Option<f64>,
}

struct Tuner<'a> {
    a: &'a Args,
    pack: RulePack,
    rows: &'a [Row],
    /// Normalised texts, once.
    norms: Vec<Normalized>,
    kinds: FeatureKinds,
    rule_count: usize,
}

impl Tuner<'_> {
    /// The pack with the scorer replaced (when one is learned).
    fn with_model(&self, model: Option<&ModelDef>) -> RulePack {
        let mut pack = self.pack.clone();
        if let (Some(name), Some(m)) = (&self.a.ngrams, model) {
            if let Some(slot) = pack.models.iter_mut().find(|(n, _)| n == name) {
                slot.1 = m.clone();
            }
        }
        pack
    }

    /// Which rules fire on each of `rows` (indices into self.rows), as sparse rows, and the
    /// verdicts' flags.
    fn firings(&self, pack: &RulePack, rows: &[usize]) -> Result<Vec<SparseRow>, Fatal> {
        let engine = Engine::compile(std::slice::from_ref(pack), &EngineOptions::default())
            .map_err(|e| Fatal(format!("the rule pack is refused:\n{e}")))?;
        let mut scratch = Scratch::default();
        Ok(rows
            .iter()
            .map(|&i| {
                let p = &self.rows[i].post;
                engine
                    .scan_in_context(&p.text, p.context.as_deref(), &mut scratch)
                    .rules
                    .iter()
                    .map(|r| (r.rule as u32, 1.0))
                    .collect()
            })
            .collect())
    }

    fn learn_model(&self, rows: &[usize]) -> ModelDef {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut sparse: Vec<Vec<u32>> = Vec::with_capacity(rows.len());
        for &i in rows {
            let mut keys = feature_keys(self.norms[i].as_str(), self.kinds);
            keys.sort_unstable();
            keys.dedup();
            let mut ids = Vec::with_capacity(keys.len());
            for k in keys {
                let id = *vocab.entry(k.clone()).or_insert_with(|| {
                    names.push(k);
                    counts.push(0);
                    (names.len() - 1) as u32
                });
                counts[id as usize] += 1;
                ids.push(id);
            }
            sparse.push(ids);
        }
        // Only n-grams seen in enough posts; renumber them densely.
        let mut remap = vec![u32::MAX; names.len()];
        let mut kept = Vec::new();
        for (id, &c) in counts.iter().enumerate() {
            if c >= self.a.min_count {
                remap[id] = kept.len() as u32;
                kept.push(id);
            }
        }
        let x: Vec<SparseRow> = sparse
            .iter()
            .map(|ids| {
                ids.iter()
                    .filter(|&&id| remap[id as usize] != u32::MAX)
                    .map(|&id| (remap[id as usize], 1.0))
                    .collect()
            })
            .collect();
        let y: Vec<bool> = rows.iter().map(|&i| self.rows[i].post.label).collect();
        let fitted = fit(
            &x,
            &y,
            kept.len(),
            &FitOptions {
                l1: self.a.ngram_l1,
                l2: self.a.ngram_l2,
                non_negative: false,
                balance: true,
                iterations: 300,
            },
        );
        let mut weights: Vec<(String, f64)> = fitted
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| w.abs() >= 1e-4)
            .map(|(j, &w)| (names[kept[j]].clone(), (w * 10_000.0).round() / 10_000.0))
            .filter(|(_, w)| *w != 0.0)
            .collect();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        let description = self
            .pack
            .models
            .iter()
            .find(|(n, _)| Some(n) == self.a.ngrams.as_ref())
            .map(|(_, m)| m.description.clone())
            .unwrap_or_default();
        ModelDef {
            description,
            bias: (fitted.bias * 10_000.0).round() / 10_000.0,
            weights,
        }
    }

    fn model_probability(&self, model: &ModelDef, i: usize) -> f64 {
        let scorer = NgramScorer::new(
            model.bias,
            model.weights.iter().map(|(k, w)| (k.as_str(), *w)),
        );
        scorer.score(&self.norms[i].text, &mut Vec::new(), &mut Vec::new())
    }

    /// Learns from `rows`, whose folds (for the scorer's out-of-fold firings) are `folds`.
    fn learn(&self, rows: &[usize], fold_of: &[usize]) -> Result<Learned, Fatal> {
        let y: Vec<bool> = rows.iter().map(|&i| self.rows[i].post.label).collect();
        let (model, x, model_threshold) = if self.a.ngrams.is_some() {
            // Rules that read the scorer must be weighed by how it does on posts it was not
            // learned from: each inner fold's firings come from a scorer learned without it.
            let mut inner: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (k, &i) in rows.iter().enumerate() {
                inner.entry(fold_of[i]).or_default().push(k);
            }
            let mut x: Vec<SparseRow> = vec![Vec::new(); rows.len()];
            let mut oof = vec![0.0; rows.len()];
            for members in inner.values() {
                let held: std::collections::HashSet<usize> = members.iter().copied().collect();
                let learn_from: Vec<usize> = (0..rows.len())
                    .filter(|k| !held.contains(k))
                    .map(|k| rows[k])
                    .collect();
                let m = self.learn_model(&learn_from);
                let judged: Vec<usize> = members.iter().map(|&k| rows[k]).collect();
                let fired = self.firings(&self.with_model(Some(&m)), &judged)?;
                for (&k, f) in members.iter().zip(fired) {
                    x[k] = f;
                    oof[k] = self.model_probability(&m, rows[k]);
                }
            }
            let model_threshold = choose_threshold(&oof, &y, self.a.target_precision).threshold;
            (Some(self.learn_model(rows)), x, Some(model_threshold))
        } else {
            (None, self.firings(&self.pack, rows)?, None)
        };
        let weights = if self.a.keep_weights {
            // The written weights, on the log-odds scale: only the threshold is learned.
            let mut w = vec![0.0; self.rule_count];
            for (r, rule) in self.pack.rules.iter().enumerate() {
                w[r] = rule.weight;
            }
            Logistic {
                bias: 0.0,
                weights: w,
            }
        } else {
            fit(
                &x,
                &y,
                self.rule_count,
                &FitOptions {
                    l1: self.a.l1,
                    l2: self.a.l2,
                    non_negative: true,
                    balance: true,
                    iterations: 500,
                },
            )
        };
        let scores: Vec<f64> = x.iter().map(|r| weights.probability(r)).collect();
        let threshold = choose_threshold(&scores, &y, self.a.target_precision).threshold;
        Ok(Learned {
            model,
            weights,
            threshold,
            model_threshold,
        })
    }
}

#[derive(Default, Clone, Copy)]
struct FoldResult {
    written: Confusion,
    tuned: Confusion,
    model: Confusion,
}

pub fn run(a: Args) -> Outcome {
    if !(a.target_precision > 0.0 && a.target_precision <= 1.0) {
        return Err(Fatal(
            "--target-precision must be above 0 and at most 1".into(),
        ));
    }
    let source = read_file(&a.pack)?;
    let pack = parse_source(&a.pack, &source)?;
    if let Some(name) = &a.ngrams {
        if !pack.models.iter().any(|(n, _)| n == name) {
            return Err(Fatal(format!(
                "{}: the pack has no model `{name}`; declare it first:\n\n[models.{name}]\nbias = -4.0\nweights = {{}}\n\nand read it in a rule with {{ model = \"{name}\", above = 0.5 }}",
                a.pack
            )));
        }
    }
    let kinds = parse_kinds(&a.ngram_features)?;
    let rows = read_rows(&a.labelled, &a.filters)?;
    let posts: Vec<_> = rows.iter().map(|r| r.post.clone()).collect();
    let k = usize::from(a.folds);
    let fold_of = assign_folds(&posts, &a.group_by, k, a.seed);
    let norms: Vec<Normalized> = rows
        .iter()
        .map(|r| {
            let mut n = Normalized::default();
            normalize_into(&r.post.text, &mut n);
            n
        })
        .collect();
    let tuner = Tuner {
        a: &a,
        rule_count: pack.rules.len(),
        pack,
        rows: &rows,
        norms,
        kinds,
    };
    let written_engine =
        Engine::compile(std::slice::from_ref(&tuner.pack), &EngineOptions::default())
            .map_err(|e| Fatal(format!("the rule pack is refused:\n{e}")))?;
    let written_flags: Vec<bool> = crate::eval::verdicts(&written_engine, &rows)
        .iter()
        .map(|v| v.flagged)
        .collect();

    // Held-out folds: learn on the others, judge here.
    let mut per_fold = vec![FoldResult::default(); k];
    let mut held_out_scores = vec![0.0; rows.len()];
    for (f, result) in per_fold.iter_mut().enumerate() {
        let train: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] != f).collect();
        let test: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] == f).collect();
        if test.is_empty() {
            continue;
        }
        note(&format!(
            "flagpost: fold {} of {k}: learning from {} posts",
            f + 1,
            train.len()
        ));
        let learned = tuner.learn(&train, &fold_of)?;
        let pack = tuner.with_model(learned.model.as_ref());
        let x = tuner.firings(&pack, &test)?;
        for (&i, row) in test.iter().zip(&x) {
            let label = rows[i].post.label;
            let p = learned.weights.probability(row);
            held_out_scores[i] = p;
            result.written.add(written_flags[i], label);
            result.tuned.add(p + 1e-12 >= learned.threshold, label);
            if let (Some(m), Some(t)) = (&learned.model, learned.model_threshold) {
                result
                    .model
                    .add(tuner.model_probability(m, i) + 1e-12 >= t, label);
            }
        }
    }
    let mut pooled = FoldResult::default();
    for r in &per_fold {
        pooled.written.merge(&r.written);
        pooled.tuned.merge(&r.tuned);
        pooled.model.merge(&r.model);
    }

    // The final fit, on every row.
    note("flagpost: learning from all posts");
    let all: Vec<usize> = (0..rows.len()).collect();
    let learned = tuner.learn(&all, &fold_of)?;
    let final_pack = tuner.with_model(learned.model.as_ref());
    let x_all = tuner.firings(&final_pack, &all)?;
    let y_all: Vec<bool> = rows.iter().map(|r| r.post.label).collect();

    // Pack weights: score = Σ weight ≥ threshold ⇔ probability ≥ the chosen one.
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let p_thr = learned.threshold.clamp(1e-6, 1.0 - 1e-6);
    let mut threshold = logit(p_thr) - learned.weights.bias;
    let min_positive = learned
        .weights
        .weights
        .iter()
        .copied()
        .filter(|w| *w > 0.0)
        .fold(f64::INFINITY, f64::min);
    if threshold.is_nan() || threshold <= 0.0 {
        // Would flag a post on which nothing fired; the weakest rule alone is the floor.
        threshold = if min_positive.is_finite() {
            min_positive
        } else {
            1.0
        };
    }
    let mut fired_pos = vec![0usize; tuner.rule_count];
    let mut fired_neg = vec![0usize; tuner.rule_count];
    for (row, &y) in x_all.iter().zip(&y_all) {
        for &(r, _) in row {
            if y {
                fired_pos[r as usize] += 1;
            } else {
                fired_neg[r as usize] += 1;
            }
        }
    }
    let scale = threshold / tuner.pack.threshold;
    let mut new_weights: Vec<Option<f64>> = Vec::with_capacity(tuner.rule_count);
    let mut never_help = Vec::new();
    let mut no_evidence = Vec::new();
    for (r, rule) in tuner.pack.rules.iter().enumerate() {
        if !rule.enabled {
            new_weights.push(Some(rule.weight));
            continue;
        }
        let w = learned.weights.weights[r];
        if fired_pos[r] + fired_neg[r] == 0 {
            no_evidence.push(rule.id.clone());
            new_weights.push(Some(round4(rule.weight * scale)));
        } else if w < 1e-4 {
            never_help.push(rule.id.clone());
            new_weights.push(None);
        } else {
            new_weights.push(Some(round4(w)));
        }
    }
    let threshold = round4(threshold);
    let share_total: f64 = x_all
        .iter()
        .zip(&y_all)
        .filter(|(_, &y)| y)
        .flat_map(|(row, _)| {
            row.iter()
                .map(|&(r, _)| new_weights[r as usize].unwrap_or(0.0))
        })
        .sum();

    let trade_off: Vec<Value> = {
        let points = curve(&held_out_scores, &y_all);
        [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
            .iter()
            .filter_map(|&t| {
                points
                    .iter()
                    .rfind(|p| p.threshold + 1e-12 >= t)
                    .map(|p| json!({"probability": t, "precision": round(p.precision), "recall": round(p.recall), "flagged": p.flagged}))
            })
            .collect()
    };

    let mut written_to = None;
    if let Some(out) = &a.out {
        let text = write_pack(
            &source,
            PackFormat::from_name(&a.pack),
            &tuner.pack,
            &new_weights,
            threshold,
            a.ngrams.as_deref().zip(learned.model.as_ref()),
        )?;
        // What is written must load: check it before it replaces anything.
        let check = flagpost::parse_pack(&text, PackFormat::from_name(out), out).map_err(|e| {
            Fatal(format!(
                "the tuned pack does not validate (not written):\n{e}"
            ))
        })?;
        Engine::compile(&[check], &EngineOptions::default()).map_err(|e| {
            Fatal(format!(
                "the tuned pack does not compile (not written):\n{e}"
            ))
        })?;
        std::fs::write(out, text).map_err(|e| Fatal(format!("cannot write {out}: {e}")))?;
        written_to = Some(out.clone());
    }

    let rules_json: Vec<Value> = tuner
        .pack
        .rules
        .iter()
        .enumerate()
        .map(|(r, rule)| {
            let share = if share_total > 0.0 {
                fired_pos[r] as f64 * new_weights[r].unwrap_or(0.0) / share_total
            } else {
                0.0
            };
            json!({
                "rule": rule.id, "category": rule.category,
                "fired_on_positives": fired_pos[r], "fired_on_negatives": fired_neg[r],
                "written_weight": rule.weight, "tuned_weight": new_weights[r],
                "share_of_positive_score": round(share),
            })
        })
        .collect();
    let fold_json = |c: &Confusion| json!({"precision": round(c.precision()), "recall": round(c.recall()), "f1": round(c.f1()), "confusion": confusion_json(c)});
    if a.json {
        let mut report = json!({
            "posts": rows.len(), "folds": k, "group_by": a.group_by,
            "held_out": {
                "written": fold_json(&pooled.written),
                "tuned": fold_json(&pooled.tuned),
            },
            "per_fold": per_fold.iter().enumerate().map(|(f, r)| json!({
                "fold": f + 1, "written": fold_json(&r.written), "tuned": fold_json(&r.tuned),
                "ngrams_alone": if a.ngrams.is_some() { fold_json(&r.model) } else { Value::Null },
            })).collect::<Vec<_>>(),
            "threshold": threshold,
            "rules": rules_json,
            "never_help": never_help, "no_evidence": no_evidence,
            "held_out_trade_off": trade_off,
            "written_to": written_to,
        });
        if a.ngrams.is_some() {
            report["held_out"]["ngrams_alone"] = fold_json(&pooled.model);
            report["ngram_features"] = json!(learned.model.as_ref().map_or(0, |m| m.weights.len()));
        }
        say!("{report}");
        return Ok(std::process::ExitCode::SUCCESS);
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "tuned {} on {} labelled posts; held-out figures from {k} folds of whole groups by `{}`",
        a.pack,
        rows.len(),
        a.group_by
    );
    let _ = writeln!(
        out,
        "(each fold judged by weights{} learned from the other folds)\n",
        if a.ngrams.is_some() {
            " and an n-gram scorer"
        } else {
            ""
        }
    );
    let _ = write!(
        out,
        "{:>6}  {:>5} {:>4}  {:>15}  {:>15}",
        "fold", "posts", "pos", "as written P/R", "tuned P/R"
    );
    if a.ngrams.is_some() {
        let _ = write!(out, "  {:>15}", "n-grams alone");
    }
    out.push('\n');
    let line = |out: &mut String, name: &str, r: &FoldResult| {
        let _ = write!(
            out,
            "{:>6}  {:>5} {:>4}  {:>7.3} / {:>5.3}  {:>7.3} / {:>5.3}",
            name,
            r.written.total(),
            r.written.positives(),
            r.written.precision(),
            r.written.recall(),
            r.tuned.precision(),
            r.tuned.recall()
        );
        if a.ngrams.is_some() {
            let _ = write!(
                out,
                "  {:>7.3} / {:>5.3}",
                r.model.precision(),
                r.model.recall()
            );
        }
        out.push('\n');
    };
    for (f, r) in per_fold.iter().enumerate() {
        line(&mut out, &(f + 1).to_string(), r);
    }
    line(&mut out, "all", &pooled);

    let _ = writeln!(
        out,
        "\nheld-out precision and recall of the tuned scores by probability threshold:"
    );
    for p in &trade_off {
        let _ = writeln!(
            out,
            "  ≥ {:.1}: precision {:.3}, recall {:.3} ({} flagged)",
            p["probability"].as_f64().unwrap_or(0.0),
            p["precision"].as_f64().unwrap_or(0.0),
            p["recall"].as_f64().unwrap_or(0.0),
            p["flagged"]
        );
    }
    let width = tuner
        .pack
        .rules
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "\nweights learned from all {} posts (threshold {threshold}, was {}):",
        rows.len(),
        tuner.pack.threshold
    );
    let _ = writeln!(
        out,
        "{:<width$}  {:>5} {:>5}  {:>7} {:>7}  {:>6}",
        "rule", "pos", "neg", "written", "tuned", "share"
    );
    for (r, rule) in tuner.pack.rules.iter().enumerate() {
        let share = if share_total > 0.0 {
            fired_pos[r] as f64 * new_weights[r].unwrap_or(0.0) / share_total
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>5} {:>5}  {:>7} {:>7}  {:>5.1}%",
            rule.id,
            fired_pos[r],
            fired_neg[r],
            round(rule.weight),
            new_weights[r].map_or("off".to_string(), |w| w.to_string()),
            share * 100.0
        );
    }
    if !never_help.is_empty() {
        let _ = writeln!(
            out,
            "\nnever help (fired, but weigh nothing; switched off in the tuned pack): {}",
            never_help.join(", ")
        );
    }
    if !no_evidence.is_empty() {
        let _ = writeln!(
            out,
            "never fired on these posts (weights kept, scaled to the new threshold): {}",
            no_evidence.join(", ")
        );
    }
    if let (Some(name), Some(m)) = (&a.ngrams, &learned.model) {
        let mut top: Vec<&(String, f64)> = m.weights.iter().collect();
        top.sort_by(|x, y| y.1.total_cmp(&x.1));
        let show: Vec<String> = top
            .iter()
            .take(15)
            .map(|(k, w)| format!("{k} {w:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "\nn-gram scorer `{name}`: {} n-grams, bias {:.3}; strongest: {}",
            m.weights.len(),
            m.bias,
            show.join(", ")
        );
    }
    match &written_to {
        Some(path) => {
            let _ = writeln!(out, "\nwrote {path}");
        }
        None => {
            let _ = writeln!(out, "\n(use --out FILE to write the tuned pack)");
        }
    }
    say!("{}", out.trim_end());
    Ok(std::process::ExitCode::SUCCESS)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The pack's source with new rule weights (None: switched off), threshold and scorer.
/// TOML is edited in place, so comments and layout stay; JSON is rewritten.
fn write_pack(
    source: &str,
    format: PackFormat,
    pack: &RulePack,
    weights: &[Option<f64>],
    threshold: f64,
    model: Option<(&str, &ModelDef)>,
) -> Result<String, Fatal> {
    match format {
        PackFormat::Json => {
            let mut v: Value = serde_json::from_str(source)
                .map_err(|e| Fatal(format!("cannot re-read the pack: {e}")))?;
            v["threshold"] = json!(threshold);
            if let Some(rules) = v.get_mut("rules").and_then(Value::as_array_mut) {
                for (rule, w) in rules.iter_mut().zip(weights) {
                    match w {
                        Some(w) => rule["weight"] = json!(w),
                        None => rule["enabled"] = json!(false),
                    }
                }
            }
            if let Some((name, m)) = model {
                let weights: serde_json::Map<String, Value> = m
                    .weights
                    .iter()
                    .map(|(k, w)| (k.clone(), json!(w)))
                    .collect();
                v["models"][name] =
                    json!({"description": m.description, "bias": m.bias, "weights": weights});
            }
            serde_json::to_string_pretty(&v)
                .map(|s| s + "\n")
                .map_err(|e| Fatal(e.to_string()))
        }
        PackFormat::Toml => {
            let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
            let is_header = |l: &str| l.trim_start().starts_with('[');
            // The threshold: the first top-level `threshold =` line.
            let first_header = lines
                .iter()
                .position(|l| is_header(l))
                .unwrap_or(lines.len());
            let t = lines[..first_header]
                .iter()
                .position(|l| l.trim_start().starts_with("threshold") && l.contains('='))
                .ok_or_else(|| Fatal("cannot find `threshold =` in the pack".into()))?;
            lines[t] = format!("threshold = {threshold}");
            // Rule weights: the n-th `[[rules]]` block is the n-th rule.
            let starts: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.trim() == "[[rules]]")
                .map(|(i, _)| i)
                .collect();
            if starts.len() != pack.rules.len() {
                return Err(Fatal(format!(
                    "the pack has {} rules but {} `[[rules]]` headers; write its rules as [[rules]] tables to tune it",
                    pack.rules.len(),
                    starts.len()
                )));
            }
            let mut inserts: Vec<(usize, String)> = Vec::new();
            for (n, &start) in starts.iter().enumerate() {
                let end = lines[start + 1..]
                    .iter()
                    .position(|l| is_header(l))
                    .map_or(lines.len(), |p| start + 1 + p);
                let w = lines[start + 1..end]
                    .iter()
                    .position(|l| {
                        let l = l.trim_start();
                        l.starts_with("weight") && l["weight".len()..].trim_start().starts_with('=')
                    })
                    .map(|p| start + 1 + p)
                    .ok_or_else(|| {
                        Fatal(format!("rule `{}`: no `weight =` line", pack.rules[n].id))
                    })?;
                match weights[n] {
                    Some(value) => lines[w] = format!("weight = {value}"),
                    None => {
                        let has_enabled = lines[start + 1..end]
                            .iter()
                            .position(|l| l.trim_start().starts_with("enabled"));
                        match has_enabled {
                            Some(p) => lines[start + 1 + p] = "enabled = false".to_string(),
                            None => inserts.push((w + 1, "enabled = false".to_string())),
                        }
                    }
                }
            }
            for (at, line) in inserts.into_iter().rev() {
                lines.insert(at, line);
            }
            if let Some((name, m)) = model {
                let header = format!("[models.{name}]");
                let sub = format!("[models.{name}.");
                if let Some(start) = lines.iter().position(|l| l.trim() == header) {
                    let mut end = start + 1;
                    while end < lines.len() {
                        let l = lines[end].trim_start();
                        if l.starts_with('[') && !l.starts_with(&sub) {
                            break;
                        }
                        end += 1;
                    }
                    lines.drain(start..end);
                    lines.splice(start..start, model_toml(name, m));
                } else {
                    lines.push(String::new());
                    lines.extend(model_toml(name, m));
                }
            }
            let mut text = lines.join("\n");
            text.push('\n');
            Ok(text)
        }
    }
}

fn model_toml(name: &str, m: &ModelDef) -> Vec<String> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut out = vec![
        format!("[models.{name}]"),
        format!("description = {}", q(&m.description)),
        format!("bias = {}", m.bias),
        format!("[models.{name}.weights]"),
    ];
    out.extend(m.weights.iter().map(|(k, w)| format!("{} = {w}", q(k))));
    out.push(String::new());
    out
}
