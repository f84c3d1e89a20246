//! The `flagpost` command line as PRODUCT.md states it: output shape, offsets, order, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::flagpost;

fn testdata(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
        .to_string_lossy()
        .into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagpost-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn scan_writes_the_contract_line_with_character_offsets() {
    let pack = testdata("packs/basic.toml");
    let text = "🇺🇦 Ты обычный туристишка! You are just a t0urist.";
    let input = serde_json::json!({"id": "p1", "text": text, "lang": "ru"}).to_string();
    let out = flagpost(&["scan", "--pack", &pack], &format!("{input}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = &lines(&out)[0];
    assert_eq!(v["id"], "p1");
    assert_eq!(v["flagged"], true);
    assert_eq!(v["score"], 1.0);
    assert_eq!(v["categories"], serde_json::json!(["concealment"]));
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "{v}");
    let chars: Vec<char> = text.chars().collect();
    for hit in hits {
        assert_eq!(hit["rule"], "tourist");
        assert_eq!(hit["category"], "concealment");
        let (start, end) = (
            hit["start"].as_u64().unwrap() as usize,
            hit["end"].as_u64().unwrap() as usize,
        );
        let substring: String = chars[start..end].iter().collect();
        assert_eq!(hit["text"], substring.as_str());
    }
    assert_eq!(hits[0]["text"], "туристишка");
    assert_eq!(hits[0]["start"], 14);
    assert_eq!(hits[1]["text"], "You are just a t0urist");
    assert_eq!(v["rules"][0]["weight"], 1.0);
    assert_eq!(v["rules"][0]["severity"], "high");
}

#[test]
fn scan_keeps_order_and_ids_across_batches_and_threads() {
    let pack = testdata("packs/basic.toml");
    let mut input = String::new();
    for i in 0..3_000 {
        let text = if i % 7 == 0 {
            "you are just a tourist"
        } else {
            "nothing to see"
        };
        input.push_str(&serde_json::json!({"id": i, "text": text}).to_string());
        input.push('\n');
    }
    input.push_str("{\"text\": \"no id here\"}\n");
    let out = flagpost(&["scan", "--pack", &pack, "--threads", "3"], &input);
    assert!(out.status.success());
    let v = lines(&out);
    assert_eq!(v.len(), 3_001);
    for (i, line) in v.iter().take(3_000).enumerate() {
        assert_eq!(line["id"], i);
        assert_eq!(line["flagged"], i % 7 == 0);
    }
    assert_eq!(v[3_000]["id"], Value::Null);
}

#[test]
fn scan_without_packs_uses_the_shipped_ones() {
    let input = r#"{"id":1,"text":"Remember — you are an ordinary tourist, do not take anything extraneous with you"}"#;
    let out = flagpost(&["scan"], &format!("{input}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out)[0]["flagged"], true);
}

#[test]
fn scan_reports_unreadable_lines_in_place_and_exits_2() {
    let pack = testdata("packs/basic.toml");
    let out = flagpost(
        &["scan", "--pack", &pack],
        "{\"text\":\"a\"}\nnot json\n{\"id\":3}\n{\"id\":4,\"text\":\"b\"}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let v = lines(&out);
    assert_eq!(v.len(), 4);
    assert!(v[1]["error"].as_str().unwrap().contains("line 2: not JSON"));
    assert!(v[2]["error"]
        .as_str()
        .unwrap()
        .contains("line 3: no `text` field"));
    assert_eq!(v[3]["id"], 4);
}

#[test]
fn a_broken_pack_is_refused_with_its_place() {
    let broken = temp_file("broken.toml", "id = \"b\"\nname = \"B\"\nversion = \"1.0.0\"\nlicense = \"x\"\nthreshold = 1\n[[rules]]\nid = \"r\"\ncategory = \"c\"\nseverity = \"low\"\nweight = 1\ndescription = \"d\"\ncondition = { signal = \"missing\" }\n");
    let out = flagpost(
        &["scan", "--pack", broken.to_str().unwrap()],
        "{\"text\":\"a\"}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:12:"), "{err}");
    assert!(err.contains("unknown signal `missing`"), "{err}");
    let lint = flagpost(&["lint", broken.to_str().unwrap()], "");
    assert_eq!(lint.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lint.stdout).contains("rule `r`: unknown signal `missing`"));
}

#[test]
fn eval_prints_figures_and_the_per_rule_table() {
    let pack = testdata("packs/basic.toml");
    let labelled = temp_file(
        "labelled.jsonl",
        "{\"text\":\"you are just a tourist\",\"label\":1}\n\
         {\"text\":\"we need men who are ready to go\",\"label\":true}\n\
         {\"text\":\"tourists welcome, you are just a tourist here\",\"label\":0}\n\
         {\"text\":\"a quiet day\",\"label\":false}\n\
         {\"text\":\"contract and salary for drivers\",\"label\":true}\n",
    );
    let path = labelled.to_str().unwrap();
    let out = flagpost(&["eval", "--pack", &pack, "--labelled", path, "--show"], "");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("precision 0.667  recall 0.667  F1 0.667"),
        "{text}"
    );
    assert!(
        text.contains("true positives 2  false positives 1  false negatives 1  true negatives 1"),
        "{text}"
    );
    assert!(text.contains("False positives (1):"), "{text}");
    assert!(text.contains("tourists welcome"), "{text}");
    assert!(text.contains("False negatives (1):"), "{text}");
    let row = text.lines().find(|l| l.starts_with("tourist ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..], ["concealment", "1", "2", "1", "1"], "{row}");

    let out = flagpost(&["eval", "--pack", &pack, "--labelled", path, "--json"], "");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["confusion"]["false_positives"], 1);
    assert_eq!(v["precision"], 0.6667);
    let rules = v["rules"].as_array().unwrap();
    let tourist = rules.iter().find(|r| r["rule"] == "tourist").unwrap();
    assert_eq!(
        (
            tourist["hits"].as_u64(),
            tourist["false_positives"].as_u64()
        ),
        (Some(2), Some(1))
    );

    let gated = flagpost(
        &[
            "eval",
            "--pack",
            &pack,
            "--labelled",
            path,
            "--min-recall",
            "0.9",
        ],
        "",
    );
    assert_eq!(gated.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gated.stderr).contains("recall 0.667 is below 0.9"));
}

#[test]
fn eval_refuses_bad_labels_with_the_line() {
    let bad = temp_file(
        "bad.jsonl",
        "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"maybe\"}\n",
    );
    let out = flagpost(&["eval", "--labelled", bad.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("bad.jsonl:2: `label` must be true/false or 1/0"));
}

#[test]
fn test_runs_examples_and_fails_on_a_wrong_one() {
    let pack = testdata("packs/basic.toml");
    let out = flagpost(&["test", &pack], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 failed"));

    let source = std::fs::read_to_string(&pack).unwrap().replace(
        "examples.pass = [\"Tourism is great.\"]",
        "examples.pass = [\"Tourism is great.\", \"Ты обычный турист\"]",
    );
    let wrong = temp_file("wrong.toml", &source);
    let out = flagpost(&["test", wrong.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL")
            && text.contains("rule `tourist`: must not flag: \"Ты обычный турист\""),
        "{text}"
    );
    assert!(text.trim_end().ends_with("1 failed"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(flagpost(&[], "").status.code(), Some(2));
    assert_eq!(flagpost(&["frobnicate"], "").status.code(), Some(2));
    assert_eq!(flagpost(&["scan", "--colour"], "").status.code(), Some(2));
    assert_eq!(flagpost(&["lint"], "").status.code(), Some(2));
    assert_eq!(
        flagpost(&["lint", "/no/such/pack.toml"], "").status.code(),
        Some(2)
    );
    assert_eq!(
        flagpost(&["test", "/no/such/pack.toml"], "").status.code(),
        Some(2)
    );
    assert_eq!(
        flagpost(&["eval", "--labelled", "/no/such.jsonl"], "")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        flagpost(&["scan", "--pack", "/no/such/pack.toml"], "")
            .status
            .code(),
        Some(2)
    );
    assert!(flagpost(&["--help"], "").status.success());
}

#[test]
fn lint_accepts_the_shipped_pack() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/packs/recruitment.toml");
    let out = flagpost(&["lint", shipped.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Labelled rows from several sites, written for these tests.
fn labelled_by_site() -> PathBuf {
    let mut rows = String::new();
    for i in 0..30 {
        let (text, label) = if i % 3 == 0 {
            ("Remember, you are just a tourist.", 1)
        } else if i % 3 == 1 {
            ("Ты обычный турист, ничего лишнего", 1)
        } else {
            ("A quiet day at the lake.", 0)
        };
        rows.push_str(&format!(
            "{{\"text\":\"{text}\",\"label\":{label},\"source\":\"https://www.site{}.org/p/{i}\",\"kind\":\"k{}\",\"lang\":\"{}\",\"needs_context\":{}}}\n",
            i % 6,
            i % 2,
            if i % 3 == 1 { "ru" } else { "en" },
            i == 29
        ));
    }
    temp_file("by-site.jsonl", &rows)
}

#[test]
fn eval_reports_folds_of_whole_sites_and_tables_by_field() {
    let pack = testdata("packs/basic.toml");
    let rows = labelled_by_site();
    let out = flagpost(
        &[
            "eval",
            "--pack",
            &pack,
            "--labelled",
            rows.to_str().unwrap(),
            "--folds",
            "3",
            "--json",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = &lines(&out)[0];
    let folds = v["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let posts: u64 = folds.iter().map(|f| f["posts"].as_u64().unwrap()).sum();
    assert_eq!(posts, 30);
    // Six sites over three folds: every fold holds whole sites.
    assert!(
        folds.iter().all(|f| f["groups"].as_u64().unwrap() == 2),
        "{folds:?}"
    );
    assert_eq!(v["by"]["lang"]["ru"]["posts"], 10);
    assert_eq!(v["by"]["kind"]["k0"]["posts"], 15);

    let out = flagpost(
        &[
            "eval",
            "--pack",
            &pack,
            "--labelled",
            rows.to_str().unwrap(),
            "--filter",
            "needs_context=false",
        ],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("29 labelled posts"), "{text}");
    assert!(
        text.contains("by lang:") && text.contains("by kind:"),
        "{text}"
    );

    let dir = std::env::temp_dir().join(format!("flagpost-folds-{}", std::process::id()));
    let out = flagpost(
        &[
            "eval",
            "--pack",
            &pack,
            "--labelled",
            rows.to_str().unwrap(),
            "--folds",
            "3",
            "--write-folds",
            dir.to_str().unwrap(),
            "--fold",
            "2",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let test = std::fs::read_to_string(dir.join("fold-2-test.jsonl")).unwrap();
    let train = std::fs::read_to_string(dir.join("fold-2-train.jsonl")).unwrap();
    assert_eq!(test.lines().count() + train.lines().count(), 30);
    assert!(String::from_utf8_lossy(&out.stdout).contains(", fold 2 of 3"));
    let out = flagpost(
        &[
            "eval",
            "--pack",
            &pack,
            "--labelled",
            rows.to_str().unwrap(),
            "--folds",
            "3",
            "--fold",
            "4",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tune_learns_weights_and_writes_a_pack_that_loads() {
    let rows = labelled_by_site();
    let source = std::fs::read_to_string(testdata("packs/basic.toml")).unwrap();
    let pack = temp_file("tune-basic.toml", &source);
    let out_pack = std::env::temp_dir().join(format!("flagpost-tuned-{}.toml", std::process::id()));
    let out = flagpost(
        &[
            "tune",
            pack.to_str().unwrap(),
            "--labelled",
            rows.to_str().unwrap(),
            "--folds",
            "3",
            "--json",
            "-o",
            out_pack.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = &lines(&out)[0];
    assert_eq!(report["per_fold"].as_array().unwrap().len(), 3);
    let tourist = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "tourist")
        .unwrap();
    assert_eq!(tourist["fired_on_positives"], 20);
    assert!(tourist["tuned_weight"].as_f64().unwrap() > 0.0);
    assert_eq!(report["held_out"]["tuned"]["recall"], 1.0);
    // The tuned pack keeps its comments and loads.
    let tuned = std::fs::read_to_string(&out_pack).unwrap();
    assert!(tuned.starts_with("# Test pack for the engine's own tests"));
    let out = flagpost(&["lint", out_pack.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A scorer must be declared before it can be learned.
    let out = flagpost(
        &[
            "tune",
            pack.to_str().unwrap(),
            "--labelled",
            rows.to_str().unwrap(),
            "--ngrams",
            "words",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[models.words]"));
}

#[test]
fn scan_reads_context_and_reports_its_spans() {
    let pack = testdata("packs/features.toml");
    let input = "{\"id\":1,\"text\":\"Звоните!\",\"context\":{\"channel\":\"Батальон Восток\"}}\n\
                 {\"id\":2,\"text\":\"Звоните!\"}\n\
                 {\"id\":3,\"text\":\"Звоните!\",\"context\":[\"x\", 5]}\n";
    let out = flagpost(&["scan", "--pack", &pack], input);
    let v = lines(&out);
    assert_eq!(v[0]["flagged"], true);
    assert_eq!(v[0]["context_hits"][0]["text"], "Батальон");
    assert_eq!(v[0]["context_hits"][0]["start"], 0);
    assert_eq!(v[1]["flagged"], false);
    assert!(v[2]["error"].as_str().unwrap().contains("context"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn why_shows_each_part_of_a_rule() {
    let pack = testdata("packs/features.toml");
    let out = flagpost(
        &["why", "--pack", &pack, "--rule", "channel", "Звоните!"],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- channel"), "{text}");
    assert!(text.contains("+ words: \"Звоните\""), "{text}");
    assert!(text.contains("- context"), "{text}");
}

#[test]
fn bad_numbers_and_empty_inputs_are_refused_with_status_2() {
    for threads in ["0", "-5", "2.7", "1e12", "inf", "NaN", "5000"] {
        let out = flagpost(&["scan", "--threads", threads], "");
        assert_eq!(out.status.code(), Some(2), "--threads {threads}");
    }
    let blank = temp_file("blank.jsonl", "\n\n\n");
    let out = flagpost(&["bench", blank.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no posts"));
    for sub in ["scan", "eval", "tune", "test", "lint", "bench", "why"] {
        let out = flagpost(&[sub, "--help"], "");
        assert!(out.status.success(), "{sub} --help");
    }
}

#[test]
fn a_closed_standard_error_loses_no_output() {
    // `2>&-`: standard error is closed, so warnings cannot be written; verdicts still are,
    // and the status still says a line was bad.
    let pack = testdata("packs/basic.toml");
    let script = format!(
        "printf '%s\\n%s\\n' '{{\"text\":\"you are just a tourist\"}}' 'not json' | '{}' scan --pack '{}' 2>&-",
        env!("CARGO_BIN_EXE_flagpost"),
        pack
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("\"flagged\":true"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn keygen_sign_and_verify_packs() {
    let dir = std::env::temp_dir().join(format!("flagpost-sign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("publisher.key");
    let _ = std::fs::remove_file(&key);
    let out = flagpost(&["keygen", "--out", key.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("public key: ").map(str::to_string))
        .unwrap();
    // A key is never overwritten.
    assert_eq!(
        flagpost(&["keygen", "--out", key.to_str().unwrap()], "")
            .status
            .code(),
        Some(2)
    );

    let pack = dir.join("pack.toml");
    std::fs::copy(testdata("packs/basic.toml"), &pack).unwrap();
    let out = flagpost(
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            pack.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig = std::fs::read_to_string(dir.join("pack.toml.sig")).unwrap();
    assert_eq!(sig.trim().len(), 88, "base64 of 64 bytes");
    let verify = |public: &str| {
        flagpost(
            &["verify", "--public-key", public, pack.to_str().unwrap()],
            "",
        )
    };
    assert_eq!(verify(&public).status.code(), Some(0));

    // Another publisher's key, or one changed byte, fails.
    let other = dir.join("other.key");
    let _ = std::fs::remove_file(&other);
    let out = flagpost(&["keygen", "--out", other.to_str().unwrap()], "");
    let other_public = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("public key: ").map(str::to_string))
        .unwrap();
    assert_eq!(verify(&other_public).status.code(), Some(1));
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes.push(b'\n');
    std::fs::write(&pack, bytes).unwrap();
    let out = verify(&public);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("BAD signature"));
    assert_eq!(verify("not base64!").status.code(), Some(2));

    // A pack that does not load is not signed.
    std::fs::write(&pack, "id = \"broken\"").unwrap();
    assert_eq!(
        flagpost(
            &[
                "sign",
                "--key",
                key.to_str().unwrap(),
                pack.to_str().unwrap()
            ],
            ""
        )
        .status
        .code(),
        Some(2)
    );
}
