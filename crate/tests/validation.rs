//! Every way a pack can be wrong is refused with a message that says what and where.

use flagpost::{parse_pack, Engine, EngineOptions, PackError, PackFormat, Scratch};

const HEADER: &str = r#"id = "t"
name = "Test"
version = "1.0.0"
license = "CC0-1.0"
threshold = 1.0
"#;

/// A rule table with the given condition (on line 6 + 6 = 12 of the pack).
fn rule(id: &str, condition: &str) -> String {
    format!(
        "[[rules]]\nid = \"{id}\"\ncategory = \"test\"\nseverity = \"low\"\nweight = 1.0\n\
         description = \"d\"\ncondition = {condition}\nexamples.flag = [\"x\"]\nexamples.pass = [\"y\"]\n"
    )
}

fn errors(source: &str, format: PackFormat) -> Vec<PackError> {
    match parse_pack(source, format, "pack.toml") {
        Ok(_) => panic!("pack was accepted:\n{source}"),
        Err(e) => e.0,
    }
}

/// The pack is refused with an error containing `message`, placed on `line` (if given).
#[track_caller]
fn refused(source: &str, message: &str, line: Option<usize>, rule: Option<&str>) {
    let errors = errors(source, PackFormat::Toml);
    let found = errors.iter().find(|e| e.message.contains(message));
    let Some(e) = found else {
        panic!("no error containing {message:?}; got:\n{errors:#?}");
    };
    if let Some(line) = line {
        assert_eq!(e.line, Some(line), "line of {e}");
        assert!(e.column.is_some(), "column of {e}");
    }
    if let Some(rule) = rule {
        assert_eq!(e.rule.as_deref(), Some(rule), "rule of {e}");
    }
    assert_eq!(e.origin, "pack.toml");
    // The display form carries all of it.
    let shown = e.to_string();
    assert!(shown.starts_with("pack.toml:"), "{shown}");
    assert!(shown.contains(message), "{shown}");
}

fn ok(source: &str) {
    if let Err(e) = parse_pack(source, PackFormat::Toml, "pack.toml") {
        panic!("refused:\n{e}");
    }
}

#[test]
fn a_valid_pack_is_accepted() {
    ok(&format!(
        "{HEADER}{}",
        rule("r", r#"{ phrases = ["a b"] }"#)
    ));
}

#[test]
fn syntax_error_has_line_and_column() {
    refused(&format!("{HEADER}[[rules]\n"), "", Some(6), None);
}

#[test]
fn unknown_field_in_a_rule_is_an_error() {
    let source = format!("{HEADER}{}", rule("r", r#"{ phrases = ["a"] }"#))
        .replace("weight = 1.0", "wieght = 1.0");
    refused(&source, "unknown field `wieght`", Some(10), None);
}

#[test]
fn unknown_field_in_a_condition_is_an_error() {
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ phrase = ["a"] }"#)),
        "unknown field `phrase`",
        Some(12),
        None,
    );
}

#[test]
fn unknown_top_level_field_is_an_error() {
    refused(
        &format!("treshold = 2\n{HEADER}"),
        "unknown field `treshold`",
        Some(1),
        None,
    );
}

#[test]
fn missing_field_is_an_error() {
    refused(
        &HEADER.replace("license = \"CC0-1.0\"\n", ""),
        "missing field `license`",
        None,
        None,
    );
}

#[test]
fn duplicate_rule_ids() {
    let source = format!(
        "{HEADER}{}{}",
        rule("same", r#"{ phrases = ["a"] }"#),
        rule("same", r#"{ phrases = ["b"] }"#)
    );
    refused(&source, "duplicate rule id `same`", Some(16), Some("same"));
}

#[test]
fn unknown_signal_suggests_the_near_one() {
    let source = format!(
        "{HEADER}[signals]\ncall_to_travel = {{ phrases = [\"go\"] }}\n{}",
        rule("r", r#"{ signal = "call_to_trvel" }"#)
    );
    refused(
        &source,
        "unknown signal `call_to_trvel` (did you mean `call_to_travel`?)",
        Some(14),
        Some("r"),
    );
}

#[test]
fn signal_cycle() {
    let source = format!(
        "{HEADER}[signals]\na = {{ signal = \"b\" }}\nb = {{ signal = \"a\" }}\n{}",
        rule("r", r#"{ signal = "a" }"#)
    );
    refused(&source, "cycle: a → b → a", Some(7), Some("signal:a"));
}

#[test]
fn bad_regex() {
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ regex = '(unclosed' }"#)),
        "regex does not compile",
        Some(12),
        Some("r"),
    );
}

#[test]
fn regex_that_matches_empty_text() {
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ regex = 'a*' }"#)),
        "can match empty text",
        Some(12),
        Some("r"),
    );
}

#[test]
fn regex_too_large() {
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ regex = '\w{3000}\w{3000}' }"#)),
        "compiles to more than",
        Some(12),
        Some("r"),
    );
}

#[test]
fn regex_too_long() {
    let long = "a".repeat(2_001);
    refused(
        &format!("{HEADER}{}", rule("r", &format!("{{ regex = '{long}' }}"))),
        "regex is longer than 2000 characters",
        Some(12),
        Some("r"),
    );
}

#[test]
fn inverted_range() {
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", "{ range = { low = [25, 16], high = [30, 65] } }")
        ),
        "inverted range",
        Some(7),
        Some("r"),
    );
}

#[test]
fn range_that_can_never_match() {
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", "{ range = { low = [70, 80], high = [30, 65] } }")
        ),
        "can never match",
        None,
        Some("r"),
    );
}

#[test]
fn empty_lists() {
    for (condition, what) in [
        ("{ phrases = [] }", "`phrases` list is empty"),
        ("{ all = [] }", "`all` list is empty"),
        ("{ any = [] }", "`any` list is empty"),
        ("{ none = [] }", "`none` list is empty"),
        ("{ at_least = 1, of = [] }", "`of` list is empty"),
    ] {
        refused(
            &format!("{HEADER}{}", rule("r", condition)),
            what,
            None,
            Some("r"),
        );
    }
}

#[test]
fn empty_and_badly_starred_phrases() {
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ phrases = ["  "] }"#)),
        "is empty once normalised",
        Some(12),
        Some("r"),
    );
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ phrases = ["*"] }"#)),
        "is empty once normalised",
        None,
        Some("r"),
    );
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ phrases = ["a*b"] }"#)),
        "only allowed at the end",
        Some(12),
        Some("r"),
    );
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ phrases = ["ab*"] }"#)),
        "too short",
        None,
        Some("r"),
    );
}

#[test]
fn condition_kinds() {
    refused(
        &format!("{HEADER}{}", rule("r", "{}")),
        "a condition needs one of",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ phrases = ["a"], regex = "b" }"#)
        ),
        "has phrases and regex",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ at_least = 2, of = [{ phrases = ["a"] }] }"#)
        ),
        "at_least = 2, but `of` has 1 parts",
        None,
        Some("r"),
    );
    refused(
        &format!("{HEADER}{}", rule("r", r#"{ of = [{ phrases = ["a"] }] }"#)),
        "`at_least` and `of` go together",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule(
                "r",
                r#"{ near = [{ phrases = ["a"] }, { phrases = ["b"] }] }"#
            )
        ),
        "`near` and `within` go together",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ near = [{ phrases = ["a"] }], within = 3 }"#)
        ),
        "at least two parts",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule(
                "r",
                r#"{ near = [{ phrases = ["a"] }, { phrases = ["b"] }], within = 0 }"#
            )
        ),
        "the window must be 1 to 100 words",
        None,
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule(
                "r",
                r#"{ near = [{ phrases = ["a"] }, { none = [{ phrases = ["b"] }] }], within = 3 }"#
            )
        ),
        "cannot be a part of `near`",
        None,
        Some("r"),
    );
}

#[test]
fn rule_that_fires_on_every_post() {
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ none = [{ phrases = ["a"] }] }"#)
        ),
        "would fire on every post",
        Some(7),
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule(
                "r",
                r#"{ any = [{ phrases = ["a"] }, { none = [{ phrases = ["b"] }] }] }"#
            )
        ),
        "would fire on every post",
        None,
        Some("r"),
    );
}

#[test]
fn nesting_too_deep() {
    let mut condition = r#"{ phrases = ["a"] }"#.to_string();
    for _ in 0..20 {
        condition = format!("{{ all = [{condition}] }}");
    }
    refused(
        &format!("{HEADER}{}", rule("r", &condition)),
        "nested deeper than 16 levels",
        None,
        Some("r"),
    );
}

#[test]
fn too_many_rules() {
    let mut source = HEADER.to_string();
    for i in 0..5_001 {
        source.push_str(&rule(&format!("r{i}"), r#"{ phrases = ["abc"] }"#));
    }
    refused(
        &source,
        "5001 rules; the limit is 5000 per pack",
        None,
        None,
    );
}

#[test]
fn phrase_too_long() {
    let long = "a".repeat(201);
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", &format!("{{ phrases = [\"{long}\"] }}"))
        ),
        "longer than 200 characters",
        Some(12),
        Some("r"),
    );
}

#[test]
fn too_many_phrases_in_the_engine() {
    let list: Vec<String> = (0..50_001).map(|i| format!("\"w{i}\"")).collect();
    let mut packs = Vec::new();
    for p in 0..4 {
        let source = format!(
            "{}{}",
            HEADER.replace("id = \"t\"", &format!("id = \"t{p}\"")),
            rule("r", &format!("{{ phrases = [{}] }}", list.join(",")))
        );
        packs.push(parse_pack(&source, PackFormat::Toml, "big.toml").unwrap());
    }
    let e = Engine::compile(&packs, &EngineOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("200004 phrases in the loaded packs; the limit is 200000"),
        "{e}"
    );
}

#[test]
fn bad_metadata() {
    refused(
        &HEADER.replace("id = \"t\"", "id = \"Has Spaces\""),
        "pack id `Has Spaces`",
        Some(1),
        None,
    );
    refused(
        &HEADER.replace("1.0.0", "1.0"),
        "is not semver",
        Some(3),
        None,
    );
    refused(
        &HEADER.replace("threshold = 1.0", "threshold = 0"),
        "threshold must be a number above 0",
        Some(5),
        None,
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ phrases = ["a"] }"#).replace("weight = 1.0", "weight = -1")
        ),
        "weight must be",
        Some(7),
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ phrases = ["a"] }"#)
                .replace("category = \"test\"", "category = \"Bad Category\"")
        ),
        "category `Bad Category`",
        Some(7),
        Some("r"),
    );
    refused(
        &format!(
            "{HEADER}{}",
            rule("r", r#"{ phrases = ["a"] }"#)
                .replace("severity = \"low\"", "severity = \"urgent\"")
        ),
        "unknown variant `urgent`",
        Some(9),
        None,
    );
    refused(HEADER, "the pack has no rules", None, None);
}

#[test]
fn duplicate_pack_ids_across_files() {
    let source = format!("{HEADER}{}", rule("r", r#"{ phrases = ["a"] }"#));
    let a = parse_pack(&source, PackFormat::Toml, "a.toml").unwrap();
    let b = parse_pack(&source, PackFormat::Toml, "b.toml").unwrap();
    let e = Engine::compile(&[a, b], &EngineOptions::default()).unwrap_err();
    assert_eq!(e.0[0].origin, "b.toml");
    assert!(
        e.0[0].message.contains("pack id `t` is already loaded"),
        "{e}"
    );
}

#[test]
fn json_packs_report_line_and_column_too() {
    let json = r#"{
  "id": "j", "name": "J", "version": "1.0.0", "license": "CC0-1.0", "threshold": 1,
  "rules": [
    { "id": "a", "category": "c", "severity": "low", "weight": 1, "description": "d",
      "condition": { "phrases": ["x"] }, "colour": "red" }
  ]
}"#;
    let e = errors(json, PackFormat::Json);
    assert!(e[0].message.contains("unknown field `colour`"), "{e:?}");
    assert_eq!(e[0].line, Some(5));
    let json = json
        .replace(r#", "colour": "red""#, "")
        .replace(r#"["x"]"#, r#"{"signal": "nope"}"#)
        .replace(r#""phrases": "#, r#""any": ["#)
        .replace("} }", "}] }");
    let e = errors(&json, PackFormat::Json);
    assert!(e[0].message.contains("unknown signal `nope`"), "{e:?}");
    assert_eq!(e[0].line, Some(5));
    assert_eq!(e[0].rule.as_deref(), Some("a"));
}

#[test]
fn hostile_input_never_panics() {
    for source in [
        "",
        "\u{0}",
        "[[rules]]",
        "id = 1",
        "rules = 5",
        "[signals]\na = 1",
        &"[".repeat(10_000),
        &"{ all = [".repeat(500),
        "id = \"\u{202E}\"",
    ] {
        assert!(parse_pack(source, PackFormat::Toml, "x.toml").is_err());
        assert!(parse_pack(source, PackFormat::Json, "x.json").is_err());
    }
}

/// The warnings of a pack whose one rule is `{ regex = '…' }`.
fn regex_warnings(regex: &str) -> Vec<PackError> {
    let source = format!("{HEADER}{}", rule("r", &format!("{{ regex = '{regex}' }}")));
    parse_pack(&source, PackFormat::Toml, "pack.toml")
        .unwrap()
        .warnings
}

/// The warning about `regex` whose message contains `about`.
fn regex_warning(regex: &str, about: &str) -> PackError {
    regex_warnings(regex)
        .into_iter()
        .find(|w| w.message.contains(about))
        .unwrap_or_else(|| panic!("no warning about {about:?} for {regex}"))
}

#[test]
fn regex_without_a_literal_start_is_a_warning() {
    let w = regex_warning(r"\d+ руб", "runs on every post");
    assert_eq!((w.line, w.rule.as_deref()), (Some(12), Some("r")));
    assert!(regex_warnings(r"руб\w* \d+").is_empty());
}

#[test]
fn regex_tried_at_a_common_word_is_a_warning() {
    // `.` after "you" ends the literal start: the regex is tried at every "you".
    let w = regex_warning(r"\byou.re just a tourist", "starts with only `you`");
    assert_eq!(w.rule.as_deref(), Some("r"));
    for regex in [r"\byou[\x27’]re just a tourist", r"\b(in|of) 1[0-9]{3}\b"] {
        let warnings = regex_warnings(regex);
        assert!(warnings.is_empty(), "{regex}: {warnings:?}");
    }
}

/// Runs `work` on another thread and fails if it takes longer than `limit`: a guard against
/// exponential or quadratic blow-ups, with a bound far above what linear work needs.
fn within(limit: std::time::Duration, what: &str, work: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        work();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} took longer than {limit:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what} failed (above)"),
    }
}

#[test]
fn signals_that_reuse_each_other_cost_linear_time() {
    // s0 uses s1 twice, s1 uses s2 twice, …: 2^40 paths through the signals, 40 signals.
    let depth = 40;
    let mut source = format!("{HEADER}[signals]\n");
    for i in 0..depth {
        source.push_str(&format!(
            "s{i} = {{ any = [{{ signal = \"s{}\" }}, {{ all = [{{ signal = \"s{}\" }}, {{ phrases = [\"w{i}\"] }}] }}] }}\n",
            i + 1,
            i + 1
        ));
    }
    source.push_str(&format!("s{depth} = {{ phrases = [\"leaf\"] }}\n"));
    source.push_str(&rule(
        "r",
        r#"{ all = [{ signal = "s0" }, { near = [{ signal = "s0" }, { signal = "s1" }], within = 5 }] }"#,
    ));
    within(
        std::time::Duration::from_secs(10),
        "a pack of nested signals",
        move || {
            let pack = parse_pack(&source, PackFormat::Toml, "deep.toml").expect("parses");
            let engine = Engine::compile(&[pack], &EngineOptions::default()).expect("compiles");
            let text = (0..depth).map(|i| format!("w{i} ")).collect::<String>() + "leaf";
            let verdict = engine.scan(&text, &mut Scratch::default());
            assert!(verdict.flagged);
        },
    );
}

#[test]
fn many_signals_and_rules_validate_in_linear_time() {
    let n = 20_000;
    let mut source = format!("{HEADER}[signals]\n");
    for i in 0..n {
        source.push_str(&format!("sig{i} = {{ phrases = [\"word{i}\"] }}\n"));
    }
    for i in 0..n / 4 {
        source.push_str(&rule(
            &format!("r{i}"),
            &format!("{{ signal = \"sig{i}\" }}"),
        ));
    }
    within(
        std::time::Duration::from_secs(20),
        "20,000 signals",
        move || {
            let pack = parse_pack(&source, PackFormat::Toml, "many.toml").expect("parses");
            assert_eq!(pack.signals.len(), n);
        },
    );
    let mut source = HEADER.to_string();
    for i in 0..4_999 {
        source.push_str(&rule(
            &format!("r{i}"),
            &format!("{{ phrases = [\"word{i}\"] }}"),
        ));
    }
    source.push_str(&rule("r42", r#"{ phrases = ["again"] }"#));
    within(
        std::time::Duration::from_secs(20),
        "5,000 rules with a duplicate",
        move || {
            let e = parse_pack(&source, PackFormat::Toml, "rules.toml").expect_err("duplicate id");
            assert!(e.0[0].message.contains("duplicate rule id"), "{e}");
            assert!(e.0[0].line.is_some());
        },
    );
}
