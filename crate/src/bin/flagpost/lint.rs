//! `flagpost lint`: validates packs, alone and together.

use flagpost::{Engine, EngineOptions};

use crate::common::{say, status, Outcome};
use crate::test::parse_files;

#[derive(clap::Args)]
pub struct Args {
    /// Pack files to check.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
}

pub fn run(a: Args) -> Outcome {
    let mut ok = true;
    let mut packs = Vec::new();
    for (file, parsed) in parse_files(&a.files)? {
        match parsed {
            Ok(pack) => {
                for w in &pack.warnings {
                    say!("warning: {w}");
                }
                match Engine::compile(std::slice::from_ref(&pack), &EngineOptions::default()) {
                    Ok(engine) => {
                        let info = &engine.packs()[0];
                        let models = if pack.models.is_empty() {
                            String::new()
                        } else {
                            format!(", {} models", pack.models.len())
                        };
                        let (patterns, states, memory) = engine.automaton();
                        say!(
                            "{file}: ok — pack `{}` {} ({} rules, {} signals{models}, {} warnings; {patterns} patterns, {states} automaton states, {} KiB)",
                            info.id,
                            info.version,
                            info.rules.len(),
                            pack.signals.len(),
                            pack.warnings.len(),
                            memory / 1024
                        );
                        packs.push(pack);
                    }
                    Err(e) => {
                        say!("{e}");
                        ok = false;
                    }
                }
            }
            Err(e) => {
                say!("{e}");
                ok = false;
            }
        }
    }
    if ok && packs.len() > 1 {
        if let Err(e) = Engine::compile(&packs, &EngineOptions::default()) {
            say!("{e}");
            ok = false;
        }
    }
    Ok(status(ok))
}
