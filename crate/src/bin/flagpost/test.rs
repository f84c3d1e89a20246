//! `flagpost test`: runs the examples every rule and pack carries.

use flagpost::{parse_pack, run_examples, PackFormat, RulePack};

use crate::common::{read_file, say, shorten, status, Fatal, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// Pack files whose examples to run.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
}

/// A pack file's name and what parsing it gave.
pub type ParsedFile = (String, Result<RulePack, String>);

pub fn parse_files(files: &[String]) -> Result<Vec<ParsedFile>, Fatal> {
    files
        .iter()
        .map(|f| {
            let source = read_file(f)?;
            let parsed =
                parse_pack(&source, PackFormat::from_name(f), f).map_err(|e| e.to_string());
            Ok((f.clone(), parsed))
        })
        .collect()
}

pub fn run(a: Args) -> Outcome {
    let (mut passed, mut failed) = (0, 0);
    for (file, parsed) in parse_files(&a.files)? {
        let pack = match parsed {
            Ok(p) => p,
            Err(e) => {
                say!("{e}");
                say!("{file}: refused; no examples run");
                failed += 1;
                continue;
            }
        };
        let report = match run_examples(&pack) {
            Ok(r) => r,
            Err(e) => {
                say!("{e}");
                failed += 1;
                continue;
            }
        };
        for f in &report.failures {
            let owner = match &f.rule {
                Some(rule) => format!("rule `{rule}`"),
                None => "pack".to_string(),
            };
            let kind = if f.expect_flag {
                "must flag"
            } else {
                "must not flag"
            };
            say!(
                "FAIL {file}: {owner}: {kind}: \"{}\"\n     {}",
                shorten(&f.text, 160),
                f.message
            );
        }
        say!(
            "{file}: {} examples, {} passed, {} failed",
            report.passed + report.failures.len(),
            report.passed,
            report.failures.len()
        );
        passed += report.passed;
        failed += report.failures.len();
    }
    say!("{passed} passed, {failed} failed");
    Ok(status(failed == 0))
}
