//! The shipped packs: valid, their own examples pass, and they meet the product's targets on
//! the labelled quotes kept in testdata/corpus (a copy of ../shared/corpus/labelled-quotes.jsonl).

use flagpost::{
    parse_pack, run_examples, shipped_packs, Engine, EngineOptions, PackFormat, Scratch,
};
use serde_json::Value;

fn engine() -> Engine {
    let packs: Vec<_> = shipped_packs()
        .into_iter()
        .map(|(name, source)| parse_pack(source, PackFormat::from_name(name), name).unwrap())
        .collect();
    Engine::compile(&packs, &EngineOptions::default()).unwrap()
}

#[test]
fn shipped_packs_parse_without_warnings_and_pass_their_examples() {
    let shipped = shipped_packs();
    assert!(!shipped.is_empty());
    for (name, source) in shipped {
        let pack =
            parse_pack(source, PackFormat::from_name(name), name).unwrap_or_else(|e| panic!("{e}"));
        assert!(pack.warnings.is_empty(), "{name}: {:?}", pack.warnings);
        assert!(["en", "ru", "uk"]
            .iter()
            .all(|l| pack.languages.iter().any(|x| x == l)));
        let report = run_examples(&pack).unwrap();
        assert!(
            report.passed >= pack.rules.len() * 2,
            "every rule has examples both ways"
        );
        assert!(report.failures.is_empty(), "{name}: {:#?}", report.failures);
    }
}

fn score(file: &str, include_needs_context: bool) -> (f64, f64, usize) {
    let engine = engine();
    let mut scratch = Scratch::default();
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut n = 0;
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if !include_needs_context && v["needs_context"] == true {
            continue;
        }
        n += 1;
        let label = v["label"] == 1 || v["label"] == true;
        let flagged = engine
            .scan(v["text"].as_str().unwrap(), &mut scratch)
            .flagged;
        match (flagged, label) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    (
        tp as f64 / (tp + fp).max(1) as f64,
        tp as f64 / (tp + fn_).max(1) as f64,
        n,
    )
}

/// Every real labelled row in the repository (quotes from news, NGO and government pages and
/// public repositories, each with its source), rows that only context makes recruitment left
/// out. The pack was written from these rows, so this is a regression guard, not an estimate
/// for new sources: docs/pack-tuning.md gives the held-out figures.
#[test]
fn real_labelled_quotes_stay_caught() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/corpus");
    let (mut tp, mut fp, mut fn_, mut n) = (0.0, 0.0, 0.0, 0);
    for name in [
        "labelled-quotes.jsonl",
        "github-quotes.jsonl",
        "found-en.jsonl",
        "found-ru.jsonl",
        "found-uk.jsonl",
        "found2-mixed.jsonl",
        "found3-mixed.jsonl",
        "found4-repos.jsonl",
        "found5-mixed.jsonl",
        "found6-mixed.jsonl",
        "found7-mixed.jsonl",
        "found8-mixed.jsonl",
        "found9-repos.jsonl",
        "found10-mixed.jsonl",
        "found11-mixed.jsonl",
        "found12-mixed.jsonl",
        "found13-mixed.jsonl",
        "found14-mixed.jsonl",
    ] {
        let (_, _, rows) = score(&format!("{dir}/{name}"), false);
        n += rows;
        let (t, f, m) = counts(&format!("{dir}/{name}"));
        tp += t;
        fp += f;
        fn_ += m;
    }
    assert!(n > 800, "{n} rows");
    let precision = tp / (tp + fp);
    let recall = tp / (tp + fn_);
    println!("real labelled quotes: precision {precision:.3}, recall {recall:.3} on {n} rows");
    assert!(precision >= 0.9, "precision {precision}");
    // The floor sits a little under the recall of the shipped pack (0.726 on 1,996 rows): the
    // files added last (`found13`, `found14`) joined after their first look with many of
    // their calls, most of them historical, still missed.
    assert!(recall >= 0.71, "recall {recall}");
}

/// True positives, false positives and false negatives on the clear rows of a file.
fn counts(file: &str) -> (f64, f64, f64) {
    let engine = engine();
    let mut scratch = Scratch::default();
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["needs_context"] == true {
            continue;
        }
        let label = v["label"] == 1 || v["label"] == true;
        let flagged = engine
            .scan(v["text"].as_str().unwrap(), &mut scratch)
            .flagged;
        match (flagged, label) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            _ => {}
        }
    }
    (tp, fp, fn_)
}

/// Posts written for tests: near-variants of each kind and hard look-alikes.
#[test]
fn written_test_posts_meet_the_targets() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/labelled-extra.jsonl");
    let (precision, recall, n) = score(file, true);
    assert!(n > 100);
    assert!(precision >= 0.9, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}
