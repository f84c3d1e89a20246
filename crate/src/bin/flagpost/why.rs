//! `flagpost why`: for each text, every rule's condition as a tree of true and false parts,
//! with the words each signal matched: why a rule fired, or what it lacked.

use crate::common::{compile, load_packs, say, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// Texts to explain.
    #[arg(value_name = "TEXT", required = true)]
    texts: Vec<String>,
    /// A rule pack; repeat for several. Without it, the shipped packs.
    #[arg(long = "pack", value_name = "FILE")]
    packs: Vec<String>,
    /// The context the text appears in (channel or thread title).
    #[arg(long, value_name = "TEXT")]
    context: Option<String>,
    /// Only the rules whose id contains this.
    #[arg(long, value_name = "ID")]
    rule: Option<String>,
}

pub fn run(a: Args) -> Outcome {
    let engine = compile(&load_packs(&a.packs)?)?;
    for text in &a.texts {
        let verdict = engine.scan_in_context(text, a.context.as_deref(), &mut Default::default());
        say!(
            "{}: {} (score {})",
            text,
            if verdict.flagged {
                "flagged"
            } else {
                "not flagged"
            },
            verdict.score
        );
        let trace = engine.trace(text, a.context.as_deref());
        let mut keep = a.rule.is_none();
        for line in trace.lines() {
            if !line.starts_with(' ') {
                keep = a.rule.as_ref().is_none_or(|r| line.contains(r.as_str()));
            }
            if keep {
                say!("{line}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
