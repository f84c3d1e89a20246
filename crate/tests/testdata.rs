//! Runs the table-driven cases in `testdata/*.toml`: each names its packs and lists posts with
//! the rules that must fire, the flag, and the exact spans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flagpost::verdict::{char_unit, convert_offsets};
use flagpost::{parse_pack, shipped_packs, Engine, EngineOptions, PackFormat, Scratch};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// Pack files relative to `testdata/`; empty for the shipped packs.
    #[serde(default)]
    packs: Vec<String>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    text: String,
    /// The channel or thread title the post appears under.
    context: Option<String>,
    rules: Option<Vec<String>>,
    flagged: Option<bool>,
    categories: Option<Vec<String>>,
    #[serde(default)]
    spans: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    offsets: BTreeMap<String, Vec<[usize; 2]>>,
    /// Exact substrings of the context each rule matched there.
    #[serde(default)]
    context_spans: BTreeMap<String, Vec<String>>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn engine_for(packs: &[String]) -> Engine {
    let sources: Vec<(String, String)> = if packs.is_empty() {
        shipped_packs()
            .into_iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect()
    } else {
        packs
            .iter()
            .map(|p| {
                let path = testdata().join(p);
                (
                    p.clone(),
                    std::fs::read_to_string(&path).expect("pack file"),
                )
            })
            .collect()
    };
    let parsed: Vec<_> = sources
        .iter()
        .map(|(name, source)| {
            parse_pack(source, PackFormat::from_name(name), name)
                .unwrap_or_else(|e| panic!("{name} is refused:\n{e}"))
        })
        .collect();
    Engine::compile(&parsed, &EngineOptions::default()).expect("engine")
}

#[test]
fn every_case_in_testdata() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in testdata/");
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let cases: CaseFile =
            toml::from_str(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let engine = engine_for(&cases.packs);
        let mut scratch = Scratch::default();
        for case in &cases.case {
            count += 1;
            let where_ = format!(
                "{} / {}",
                file.file_name().unwrap().to_string_lossy(),
                case.name
            );
            let verdict = engine.scan_in_context(&case.text, case.context.as_deref(), &mut scratch);
            let fired: Vec<String> = verdict.rules.iter().map(|r| r.id.clone()).collect();
            if let Some(rules) = &case.rules {
                let mut want = rules.clone();
                want.sort();
                let mut got = fired.clone();
                got.sort();
                if want != got {
                    failures.push(format!("{where_}: rules {got:?}, expected {want:?}"));
                }
            }
            if let Some(flagged) = case.flagged {
                if verdict.flagged != flagged {
                    failures.push(format!(
                        "{where_}: flagged {}, expected {flagged} (score {}, rules {fired:?})",
                        verdict.flagged, verdict.score
                    ));
                }
            }
            if let Some(categories) = &case.categories {
                let mut want = categories.clone();
                want.sort();
                if verdict.categories != want {
                    failures.push(format!(
                        "{where_}: categories {:?}, expected {want:?}",
                        verdict.categories
                    ));
                }
            }
            for (rule, want) in &case.spans {
                let got: Vec<&str> = verdict
                    .rules
                    .iter()
                    .filter(|r| &r.id == rule)
                    .flat_map(|r| r.spans.iter().map(|s| &case.text[s.start..s.end]))
                    .collect();
                if got != *want {
                    failures.push(format!(
                        "{where_}: spans of {rule} {got:?}, expected {want:?}"
                    ));
                }
            }
            for (rule, want) in &case.context_spans {
                let context = case.context.as_deref().unwrap_or("");
                let got: Vec<&str> = verdict
                    .rules
                    .iter()
                    .filter(|r| &r.id == rule)
                    .flat_map(|r| r.context_spans.iter().map(|s| &context[s.start..s.end]))
                    .collect();
                if got != *want {
                    failures.push(format!(
                        "{where_}: context spans of {rule} {got:?}, expected {want:?}"
                    ));
                }
            }
            for (rule, want) in &case.offsets {
                let mut got: Vec<usize> = verdict
                    .rules
                    .iter()
                    .filter(|r| &r.id == rule)
                    .flat_map(|r| r.spans.iter().flat_map(|s| [s.start, s.end]))
                    .collect();
                convert_offsets(&case.text, &mut got, char_unit);
                let got: Vec<[usize; 2]> = got.chunks(2).map(|c| [c[0], c[1]]).collect();
                if got != *want {
                    failures.push(format!(
                        "{where_}: character offsets of {rule} {got:?}, expected {want:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
