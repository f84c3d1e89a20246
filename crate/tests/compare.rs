//! `flagpost compare`: a pack against itself changes nothing; a pack less one rule stops
//! flagging exactly the posts that rule flagged alone; labelled figures agree with `eval`;
//! the gates fail the command when a limit is crossed; bad usage exits 2.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

mod common;
use common::flagpost;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(p)
        .to_string_lossy()
        .into_owned()
}

fn shipped_pack() -> String {
    repo("extension/packs/recruitment.toml")
}

fn labelled_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "labelled files in {}", dir.display());
    files
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagpost-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn temp_file(name: &str, content: &str) -> String {
    let path = temp_dir().join(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

/// Every labelled row and sample post as one unlabelled posts file, each with a unique id.
fn posts_with_ids() -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    let mut files = labelled_files();
    files.push(repo("samples/posts.jsonl"));
    for file in files {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let mut v: Value = serde_json::from_str(line).unwrap();
            v["id"] = json!(format!("post-{n}"));
            v.as_object_mut().unwrap().remove("label");
            out.push_str(&v.to_string());
            out.push('\n');
            n += 1;
        }
    }
    (temp_file("posts.jsonl", &out), n)
}

/// The pack's TOML without the `[[rules]]` table whose id is `rule`.
fn without_rule(source: &str, rule: &str) -> String {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    let mut removed = false;
    while i < lines.len() {
        if lines[i].starts_with("[[rules]]") {
            let mut j = i + 1;
            while j < lines.len() && !lines[j].starts_with('[') {
                j += 1;
            }
            let block = &lines[i..j];
            if block.iter().any(|l| l.trim() == format!("id = \"{rule}\"")) {
                removed = true;
            } else {
                out.extend(block.iter().copied());
            }
            i = j;
        } else {
            out.push_str(lines[i]);
            i += 1;
        }
    }
    assert!(removed, "rule {rule} not found");
    out
}

fn rule_ids(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut ids = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("[[rules]]") {
            let id = lines[i + 1..]
                .iter()
                .find_map(|l| l.strip_prefix("id = \""))
                .and_then(|rest| rest.strip_suffix('"'))
                .expect("rule id");
            ids.push(id.to_string());
        }
    }
    ids
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_shipped_pack_against_itself_changes_nothing() {
    let pack = shipped_pack();
    let (posts, n) = posts_with_ids();
    let mut args = vec!["compare", &pack, &pack, "--posts", &posts, "--json"];
    let labelled = labelled_files();
    for f in &labelled {
        args.extend(["--labelled", f]);
    }
    let out = flagpost(&args, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json_of(&out);
    let labelled_rows = r["labelled"]["posts"].as_u64().unwrap() as usize;
    assert!(labelled_rows > 500, "{}", r["labelled"]);
    assert_eq!(r["posts"].as_u64().unwrap() as usize, n + labelled_rows);
    assert!(r["flagged_before"].as_u64().unwrap() > 100, "{r}");
    assert_eq!(r["flagged_before"], r["flagged_after"]);
    for k in ["started", "stopped", "other_rules", "changed", "new_flags"] {
        assert_eq!(r[k], 0, "{k}");
    }
    for kind in ["started", "stopped", "other_rules", "other"] {
        assert_eq!(r["changes"][kind], json!([]), "{kind}");
    }
    assert_eq!(r["labelled"]["before"], r["labelled"]["after"]);
    let rules = r["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        rule_ids(&std::fs::read_to_string(&pack).unwrap()).len()
    );
    assert!(rules.iter().any(|x| x["hits_before"].as_u64().unwrap() > 0));
    for rule in rules {
        assert_eq!(rule["hits_before"], rule["hits_after"], "{rule}");
        assert_eq!(rule["change"], 0);
    }
    assert_eq!(r["ok"], true);

    // The readable report says so in words.
    let out = flagpost(&["compare", &pack, &pack, "--posts", &posts], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no change"), "{text}");
    assert!(text.contains("no rule's hits changed"), "{text}");
}

#[test]
fn a_pack_less_one_rule_stops_flagging_exactly_the_posts_that_rule_flagged_alone() {
    let pack = shipped_pack();
    let source = std::fs::read_to_string(&pack).unwrap();
    let threshold = source
        .parse::<toml::Table>()
        .expect("the shipped pack is TOML")
        .get("threshold")
        .and_then(|t| t.as_float().or_else(|| t.as_integer().map(|i| i as f64)))
        .expect("the pack's threshold");
    let (posts, _) = posts_with_ids();
    let input = std::fs::read_to_string(&posts).unwrap();
    // What the old pack says about every post, from `flagpost scan`.
    let out = flagpost(&["scan", "--pack", &pack], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let verdicts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Compiling two engines per comparison is most of the time, so not every rule: the six
    // that flag the most posts alone, the two that most often fire beside other rules, and
    // one that fires on none of these posts; two at a time.
    let all = rule_ids(&source);
    let count = |rule: &str, alone: bool| {
        verdicts
            .iter()
            .filter(|v| {
                let w = v["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["id"] == rule)
                    .map(|r| r["weight"].as_f64().unwrap());
                w.is_some_and(|w| {
                    v["flagged"] == true
                        && (v["score"].as_f64().unwrap() - w + 1e-9 < threshold) == alone
                })
            })
            .count()
    };
    let mut rules: Vec<String> = Vec::new();
    for (alone, take) in [(true, 6), (false, 2)] {
        let mut by: Vec<&String> = all.iter().filter(|r| !rules.contains(r)).collect();
        by.sort_by_key(|r| std::cmp::Reverse(count(r, alone)));
        rules.extend(by.into_iter().take(take).cloned());
    }
    rules.extend(
        all.iter()
            .find(|r| {
                !verdicts.iter().any(|v| {
                    v["rules"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["id"] == r.as_str())
                })
            })
            .cloned(),
    );
    let alone: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = rules
            .chunks(rules.len().div_ceil(2))
            .map(|part| {
                let (pack, source, posts, verdicts) = (&pack, &source, &posts, &verdicts);
                s.spawn(move || {
                    part.iter()
                        .map(|rule| {
                            check_rule_removed(pack, source, posts, verdicts, rule, threshold)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    // The check means something only if removing rules does stop flags.
    let rules_with_changes = alone.iter().filter(|&&n| n > 0).count();
    let posts_checked: usize = alone.iter().sum();
    assert!(
        rules_with_changes >= 5 && posts_checked >= 20,
        "{rules_with_changes} rules, {posts_checked} posts"
    );
}

/// Compares the pack with itself less `rule`; returns how many posts the rule flagged alone.
fn check_rule_removed(
    pack: &str,
    source: &str,
    posts: &str,
    verdicts: &[Value],
    rule: &str,
    threshold: f64,
) -> usize {
    // Flagged by the old pack, the rule among the reasons, and below the threshold without
    // its weight: the posts this rule flagged alone.
    let mut alone = BTreeSet::new();
    let mut still = BTreeSet::new();
    let mut hits = 0;
    for v in verdicts {
        let fired: Vec<&Value> = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == rule)
            .collect();
        if fired.is_empty() {
            continue;
        }
        hits += 1;
        if !v["flagged"].as_bool().unwrap() {
            continue;
        }
        let rest = v["score"].as_f64().unwrap() - fired[0]["weight"].as_f64().unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        if rest + 1e-9 >= threshold {
            still.insert(id);
        } else {
            alone.insert(id);
        }
    }
    let reduced = temp_file(&format!("without-{rule}.toml"), &without_rule(source, rule));
    let out = flagpost(&["compare", pack, &reduced, "--posts", posts, "--json"], "");
    assert!(out.status.success(), "{rule}: {}", stderr(&out));
    let r = json_of(&out);
    assert_eq!(ids(&r["changes"]["stopped"]), alone, "{rule}: stopped");
    assert_eq!(ids(&r["changes"]["started"]), BTreeSet::new(), "{rule}");
    assert_eq!(
        ids(&r["changes"]["other_rules"]),
        still,
        "{rule}: flagged by the other rules"
    );
    for c in r["changes"]["stopped"].as_array().unwrap() {
        assert!(c["before"]["rules"]
            .as_array()
            .unwrap()
            .contains(&json!(rule)));
        assert!(!c["after"]["rules"]
            .as_array()
            .unwrap()
            .contains(&json!(rule)));
        assert!(c["text"].as_str().is_some_and(|t| !t.is_empty()));
    }
    for x in r["rules"].as_array().unwrap() {
        if x["rule"] == rule {
            assert_eq!(x["hits_before"], hits, "{rule}");
            assert_eq!(x["hits_after"], 0);
            assert_eq!(x["in_new"], false);
        } else {
            assert_eq!(x["hits_before"], x["hits_after"], "{x}");
        }
    }
    assert_eq!(r["stopped"].as_u64().unwrap() as usize, alone.len());
    alone.len()
}

/// The rule of the shipped pack that flags the most labelled positives alone, and a copy
/// of the pack without it.
fn pack_without_a_useful_rule() -> (String, String) {
    let pack = shipped_pack();
    let source = std::fs::read_to_string(&pack).unwrap();
    let mut args = vec!["eval", "--pack", &pack, "--json"];
    let labelled = labelled_files();
    for f in &labelled {
        args.extend(["--labelled", f]);
    }
    let out = flagpost(&args, "");
    let eval = json_of(&out);
    let best = eval["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["weight"].as_f64().unwrap() >= 1.0)
        .max_by_key(|r| r["true_positives"].as_u64().unwrap())
        .unwrap()["rule"]
        .as_str()
        .unwrap()
        .to_string();
    let reduced = temp_file(
        &format!("gate-without-{best}.toml"),
        &without_rule(&source, &best),
    );
    (best, reduced)
}

#[test]
fn labelled_figures_before_and_after_are_evals_and_the_recall_gate_fails_a_loss() {
    let pack = shipped_pack();
    let (rule, reduced) = pack_without_a_useful_rule();
    let labelled = labelled_files();
    let with_labelled = |args: Vec<&str>| -> Output {
        let mut args: Vec<String> = args.into_iter().map(String::from).collect();
        for f in &labelled {
            args.extend(["--labelled".to_string(), f.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        flagpost(&args, "")
    };
    let out = with_labelled(vec!["compare", &pack, &reduced, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json_of(&out);
    for (side, p) in [("before", &pack), ("after", &reduced)] {
        let eval = json_of(&with_labelled(vec!["eval", "--pack", p, "--json"]));
        assert_eq!(
            r["labelled"][side]["precision"], eval["precision"],
            "{side}"
        );
        assert_eq!(r["labelled"][side]["recall"], eval["recall"], "{side}");
        assert_eq!(
            r["labelled"][side]["confusion"], eval["confusion"],
            "{side}"
        );
    }
    let loss = -r["labelled"]["recall_change"].as_f64().unwrap();
    assert!(
        loss > 0.0,
        "removing {rule} lost no recall: {}",
        r["labelled"]
    );
    // Labelled positives that stopped being flagged are the lost true positives.
    let lost = r["changes"]["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["label"] == true)
        .count() as u64;
    let tp = |side: &str| {
        r["labelled"][side]["confusion"]["true_positives"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(tp("before") - tp("after"), lost);
    assert!(r["changes"]["stopped"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with(".jsonl"));

    let out = with_labelled(vec!["compare", &pack, &reduced, "--max-recall-loss", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("recall fell by"), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL:"));
    let limit = format!("{}", loss + 0.001);
    let out = with_labelled(vec![
        "compare",
        &pack,
        &reduced,
        "--max-recall-loss",
        &limit,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The same change the other way round gains recall: the gate passes at zero.
    let out = with_labelled(vec!["compare", &reduced, &pack, "--max-recall-loss", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

const LOOSE_RULE: &str = r#"
[[rules]]
id = "any-the"
category = "test"
severity = "low"
weight = 1.0
description = "Written for tests: flags every post with 'the'"
condition = { phrases = ["the"] }
examples.flag = ["the end"]
examples.pass = ["a start"]
"#;

#[test]
fn the_new_flags_gates_count_posts_not_labelled_as_recruitment() {
    let pack = shipped_pack();
    let source = std::fs::read_to_string(&pack).unwrap();
    // The loose rule goes before the pack-level examples table.
    let at = source.find("\n[examples]").expect("[examples] table");
    let loose = temp_file(
        "loose.toml",
        &format!("{}\n{LOOSE_RULE}{}", &source[..at], &source[at..]),
    );
    let posts = temp_file(
        "few.jsonl",
        &[
            json!({"id": "a", "text": "The weather is fine today."}),
            json!({"id": "b", "text": "Nothing to see here."}),
            json!({"id": "c", "text": "Read the news tonight."}),
            json!({"id": "d", "text": "Кошка спит."}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect::<String>(),
    );
    let out = flagpost(&["compare", &pack, &loose, "--posts", &posts, "--json"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json_of(&out);
    assert_eq!(
        ids(&r["changes"]["started"]),
        ["a", "c"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(r["new_flags"], 2);
    assert_eq!(r["not_labelled_positive"], 4);
    let started = &r["changes"]["started"][0];
    assert_eq!(started["before"]["flagged"], false);
    assert_eq!(started["after"]["rules"], json!(["any-the"]));
    let any_the = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "any-the")
        .unwrap();
    assert_eq!(
        (
            &any_the["hits_before"],
            &any_the["hits_after"],
            &any_the["in_old"]
        ),
        (&json!(0), &json!(2), &json!(false))
    );

    let gate = |extra: &[&str]| -> Option<i32> {
        let mut args = vec!["compare", &pack, &loose, "--posts", &posts];
        args.extend(extra);
        flagpost(&args, "").status.code()
    };
    assert_eq!(gate(&["--max-new-flags", "1"]), Some(1));
    assert_eq!(gate(&["--max-new-flags", "2"]), Some(0));
    assert_eq!(gate(&["--max-new-flag-rate", "0.4"]), Some(1));
    assert_eq!(gate(&["--max-new-flag-rate", "0.5"]), Some(0));

    // Labelled rows: a newly flagged positive is not a new flag to limit, a negative is.
    let labelled = temp_file(
        "few-labelled.jsonl",
        "{\"text\": \"Join the fight\", \"label\": 1}\n{\"text\": \"the cat\", \"label\": 0}\n",
    );
    let out = flagpost(
        &["compare", &pack, &loose, "--labelled", &labelled, "--json"],
        "",
    );
    let r = json_of(&out);
    assert_eq!(r["started"], 2);
    assert_eq!(r["new_flags"], 1);
    assert_eq!(r["not_labelled_positive"], 1);
}

#[test]
fn posts_come_from_gzip_files_and_standard_input_in_sets_of_packs() {
    let basic = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/packs/basic.toml")
        .to_string_lossy()
        .into_owned();
    let features = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/packs/features.toml")
        .to_string_lossy()
        .into_owned();
    let mut text = String::new();
    for (i, t) in [
        "Remember, you are just a tourist.",
        "Join PMC Wagner today",
        "Nothing here",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&format!("{}\n", json!({"id": i, "text": t})));
    }
    let gz_path = temp_dir().join("posts.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    let gz_path = gz_path.to_string_lossy().into_owned();

    // Old: basic alone. New: basic and features. The same posts read three ways.
    let plain = temp_file("three.jsonl", &text);
    let mut reports = Vec::new();
    for (posts, stdin) in [
        (&plain, ""),
        (&gz_path, ""),
        (&"-".to_string(), text.as_str()),
    ] {
        let out = flagpost(
            &[
                "compare", "--old", &basic, "--new", &basic, "--new", &features, "--posts", posts,
                "--json",
            ],
            stdin,
        );
        assert!(out.status.success(), "{posts}: {}", stderr(&out));
        let r = json_of(&out);
        assert_eq!(r["posts"], 3, "{posts}");
        assert_eq!(r["new"].as_array().unwrap().len(), 2);
        let mut r = r;
        for kind in ["started", "stopped", "other_rules", "other"] {
            for c in r["changes"][kind].as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("file");
            }
        }
        reports.push(r);
    }
    assert_eq!(reports[0]["changes"], reports[1]["changes"]);
    assert_eq!(reports[0]["changes"], reports[2]["changes"]);
    assert_eq!(reports[0]["rules"], reports[1]["rules"]);
    // The features pack's rules are only on the new side.
    let rules = reports[0]["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|x| x["pack"] == "basic" && x["in_old"] == true && x["in_new"] == true));
    assert!(rules.iter().any(|x| x["in_old"] == false));
}

#[test]
fn bad_usage_exits_2() {
    let pack = shipped_pack();
    let posts = temp_file("one.jsonl", "{\"text\": \"hello\"}\n");
    let broken = temp_file("broken.jsonl", "{\"text\": \"hello\"}\nnot json\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["compare", &pack, &pack], "nothing to compare on"),
        (vec!["compare", &pack, "--posts", &posts], "name the packs"),
        (
            vec![
                "compare",
                &pack,
                &pack,
                "--posts",
                &posts,
                "--max-recall-loss",
                "0.1",
            ],
            "needs labelled rows",
        ),
        (
            vec![
                "compare",
                &pack,
                &pack,
                "--posts",
                "/nonexistent/posts.jsonl",
            ],
            "cannot read",
        ),
        (vec!["compare", &pack, &pack, "--posts", &broken], "line 2"),
        (
            vec![
                "compare",
                &pack,
                "/nonexistent/pack.toml",
                "--posts",
                &posts,
            ],
            "cannot read",
        ),
        (
            vec![
                "compare",
                &pack,
                &pack,
                "--posts",
                &posts,
                "--max-new-flag-rate",
                "2",
            ],
            "from 0 to 1",
        ),
    ];
    for (args, message) in cases {
        let out = flagpost(&args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_readable_report_lists_changes_with_their_rules() {
    let pack = shipped_pack();
    let (rule, reduced) = pack_without_a_useful_rule();
    let labelled = labelled_files();
    let run = |extra: &[&str]| -> Output {
        let mut args = vec!["compare", &pack, &reduced];
        for f in &labelled {
            args.extend(["--labelled", f.as_str()]);
        }
        args.extend(extra);
        flagpost(&args, "")
    };
    let stopped = json_of(&run(&["--json"]))["stopped"].as_u64().unwrap();
    assert!(stopped > 2, "{stopped}");
    let out = run(&["--show", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Stopped being flagged ({stopped}):")),
        "{text}"
    );
    let section = text
        .split("Stopped being flagged (")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert_eq!(section.matches("\n    before: ").count(), 2, "{text}");
    assert!(text.contains(&format!("before: {rule}")) || text.contains(&format!(", {rule}")));
    assert!(
        text.contains(&format!("… and {} more (--show N", stopped - 2)),
        "{text}"
    );
    assert!(text.contains("(removed)"), "{text}");
    assert!(text.contains("precision"), "{text}");
}
