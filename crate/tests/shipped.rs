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

/// True positives, false positives, false negatives and rows counted in a labelled file.
fn tally(engine: &Engine, file: &str, include_needs_context: bool) -> [usize; 4] {
    let mut scratch = Scratch::default();
    let mut t = [0; 4];
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if !include_needs_context && v["needs_context"] == true {
            continue;
        }
        t[3] += 1;
        let label = v["label"] == 1 || v["label"] == true;
        let flagged = engine
            .scan(v["text"].as_str().unwrap(), &mut scratch)
            .flagged;
        match (flagged, label) {
            (true, true) => t[0] += 1,
            (true, false) => t[1] += 1,
            (false, true) => t[2] += 1,
            _ => {}
        }
    }
    t
}

/// Precision, recall and rows of a tally.
fn rates([tp, fp, fn_, n]: [usize; 4]) -> (f64, f64, usize) {
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
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let engine = engine();
    let mut total = [0; 4];
    for file in &files {
        let t = tally(&engine, file.to_str().unwrap(), false);
        for (sum, x) in total.iter_mut().zip(t) {
            *sum += x;
        }
    }
    let (precision, recall, n) = rates(total);
    assert!(n > 800, "{n} rows");
    println!("real labelled quotes: precision {precision:.3}, recall {recall:.3} on {n} rows");
    assert!(precision >= 0.9, "precision {precision}");
    // The floor sits a little under the recall of the shipped pack (0.716 on 2,427 rows): the
    // files `found13` to `found18` joined after their first look with many of their calls
    // (historical appeals, recruiting-site copy, speeches) still missed; no rule has been
    // written from `found17` and `found18`, which are kept as held-out files.
    assert!(recall >= 0.71, "recall {recall}");
}

/// Posts written for tests: near-variants of each kind and hard look-alikes.
#[test]
fn written_test_posts_meet_the_targets() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/labelled-extra.jsonl");
    let (precision, recall, n) = rates(tally(&engine(), file, true));
    assert!(n > 100);
    assert!(precision >= 0.9, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}
