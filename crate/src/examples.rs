//! Runs the examples a pack carries: each rule's texts that must make it fire and texts that
//! must not, and the pack's own texts that must flag and must not.

use crate::engine::{Engine, EngineOptions, Scratch};
use crate::error::PackErrors;
use crate::pack::RulePack;

/// The outcome of running a pack's examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleReport {
    pub passed: usize,
    pub failures: Vec<ExampleFailure>,
}

/// One example that did not behave as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleFailure {
    /// The rule the example belongs to; `None` for the pack's own examples.
    pub rule: Option<String>,
    /// True for a "must flag" example, false for a "must not".
    pub expect_flag: bool,
    pub text: String,
    pub message: String,
}

/// Compiles `pack` on its own and checks every example. Disabled rules' examples are skipped.
pub fn run_examples(pack: &RulePack) -> Result<ExampleReport, PackErrors> {
    let engine = Engine::compile(std::slice::from_ref(pack), &EngineOptions::default())?;
    let mut scratch = Scratch::default();
    let mut report = ExampleReport::default();
    let fired_rules = |verdict: &crate::Verdict| -> Vec<String> {
        verdict.rules.iter().map(|r| r.id.clone()).collect()
    };
    for rule in pack.rules.iter().filter(|r| r.enabled) {
        for (texts, expect) in [(&rule.examples.flag, true), (&rule.examples.pass, false)] {
            for example in texts {
                let text = &example.text;
                let verdict =
                    engine.scan_in_context(text, example.context.as_deref(), &mut scratch);
                let fired = verdict.rules.iter().any(|r| r.id == rule.id);
                if fired == expect {
                    report.passed += 1;
                } else {
                    let others = fired_rules(&verdict);
                    report.failures.push(ExampleFailure {
                        rule: Some(rule.id.clone()),
                        expect_flag: expect,
                        text: text.clone(),
                        message: if expect {
                            format!(
                                "rule did not fire (rules that fired: {})",
                                list_or_none(&others)
                            )
                        } else {
                            "rule fired on a text it must not flag".to_string()
                        },
                    });
                }
            }
        }
    }
    for (texts, expect) in [(&pack.examples.flag, true), (&pack.examples.pass, false)] {
        for example in texts {
            let text = &example.text;
            let verdict = engine.scan_in_context(text, example.context.as_deref(), &mut scratch);
            if verdict.flagged == expect {
                report.passed += 1;
            } else {
                report.failures.push(ExampleFailure {
                    rule: None,
                    expect_flag: expect,
                    text: text.clone(),
                    message: format!(
                        "{} (score {}, threshold {}; rules that fired: {})",
                        if expect { "not flagged" } else { "flagged" },
                        verdict.score,
                        engine.packs()[0].threshold,
                        list_or_none(&fired_rules(&verdict))
                    ),
                });
            }
        }
    }
    Ok(report)
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join(", ")
    }
}
