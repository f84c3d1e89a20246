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

#[test]
fn labelled_quotes_meet_the_targets() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/corpus/labelled-quotes.jsonl"
    );
    let (precision, recall, n) = score(file, false);
    assert!(n > 50);
    assert!(precision >= 0.9, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}

#[test]
fn extra_labelled_posts_meet_the_targets() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/labelled-extra.jsonl");
    let (precision, recall, n) = score(file, true);
    assert!(n > 100);
    assert!(precision >= 0.9, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}
