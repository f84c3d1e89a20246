//! What the commands share: output that survives closed pipes, errors, loading packs and
//! reading posts.

use std::fs;
use std::process::ExitCode;

use flagpost::labelled::{parse_labelled, LabelledPost, RowFilter};
use flagpost::{parse_pack, shipped_packs, Engine, EngineOptions, PackFormat, RulePack};
use serde_json::Value;

/// Prints a line to standard output; a reader that went away (`| head`) ends the command
/// quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            $crate::common::note(&format!("flagpost: cannot write output: {e}"));
            std::process::exit(2);
        }
    }};
}
pub(crate) use say;

/// Writes a line to standard error; a closed standard error is not a reason to fail.
pub fn note(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// An error that ends the command with exit status 2.
pub struct Fatal(pub String);

impl<T: Into<String>> From<T> for Fatal {
    fn from(message: T) -> Self {
        Fatal(message.into())
    }
}

pub type Outcome = Result<ExitCode, Fatal>;

/// Exit status 0 when `ok`, else 1 (a check failed).
pub fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn read_file(path: &str) -> Result<String, Fatal> {
    fs::read_to_string(path).map_err(|e| Fatal(format!("cannot read {path}: {e}")))
}

/// Pack sources named on the command line, or the shipped ones, as (name, source).
pub fn pack_sources(paths: &[String]) -> Result<Vec<(String, String)>, Fatal> {
    let sources: Vec<(String, String)> = if paths.is_empty() {
        shipped_packs()
            .into_iter()
            .map(|(name, source)| (format!("extension/packs/{name}"), source.to_string()))
            .collect()
    } else {
        paths
            .iter()
            .map(|p| Ok((p.clone(), read_file(p)?)))
            .collect::<Result<_, Fatal>>()?
    };
    if sources.is_empty() {
        return Err(Fatal("no rule packs: pass --pack FILE".to_string()));
    }
    Ok(sources)
}

/// Loads the packs named on the command line (sources, or packs compiled by
/// `flagpost compile`), or the shipped ones.
pub fn load_packs(paths: &[String]) -> Result<Vec<RulePack>, Fatal> {
    if paths.is_empty() {
        return pack_sources(paths)?
            .into_iter()
            .map(|(name, source)| parse_source(&name, &source))
            .collect();
    }
    let mut packs = Vec::new();
    for path in paths {
        let bytes = fs::read(path).map_err(|e| Fatal(format!("cannot read {path}: {e}")))?;
        if flagpost::compiled::is_compiled(&bytes) {
            let loaded = flagpost::compiled::decode(&bytes, path)
                .map_err(|e| Fatal(format!("the compiled packs are refused:\n{e}")))?;
            packs.extend(loaded.into_iter().map(|c| c.pack));
        } else {
            let source = String::from_utf8(bytes)
                .map_err(|_| Fatal(format!("{path} is neither UTF-8 text nor a compiled pack")))?;
            packs.push(parse_source(path, &source)?);
        }
    }
    Ok(packs)
}

pub fn parse_source(name: &str, source: &str) -> Result<RulePack, Fatal> {
    parse_pack(source, PackFormat::from_name(name), name)
        .map_err(|e| Fatal(format!("the rule pack is refused:\n{e}")))
}

pub fn compile(packs: &[RulePack]) -> Result<Engine, Fatal> {
    Engine::compile(packs, &EngineOptions::default())
        .map_err(|e| Fatal(format!("the rule packs are refused:\n{e}")))
}

/// A labelled row and the file it came from.
pub struct Row {
    pub post: LabelledPost,
    pub file: String,
}

impl Row {
    /// `file:line`, for people.
    pub fn place(&self) -> String {
        format!("{}:{}", self.file, self.post.line)
    }
}

/// Reads labelled rows from every file and keeps those every filter keeps.
pub fn read_rows(paths: &[String], filters: &[RowFilter]) -> Result<Vec<Row>, Fatal> {
    let mut rows = Vec::new();
    for path in paths {
        let source = read_file(path)?;
        let posts = parse_labelled(&source)
            .map_err(|e| Fatal(format!("{path}:{}: {}", e.line, e.message)))?;
        rows.extend(
            posts
                .into_iter()
                .filter(|p| filters.iter().all(|f| f.keeps(p)))
                .map(|post| Row {
                    post,
                    file: path.clone(),
                }),
        );
    }
    if rows.is_empty() {
        return Err(Fatal(format!(
            "no labelled posts in {}{}",
            paths.join(", "),
            if filters.is_empty() {
                ""
            } else {
                " once filtered"
            }
        )));
    }
    Ok(rows)
}

/// One post of `scan`'s input: its id, text and optional context.
pub struct PostLine {
    pub id: Value,
    pub text: String,
    pub context: Option<String>,
}

pub fn parse_post(line: &str, line_no: usize) -> Result<PostLine, String> {
    let mut value: Value =
        serde_json::from_str(line).map_err(|e| format!("line {line_no}: not JSON: {e}"))?;
    let Some(object) = value.as_object_mut() else {
        return Err(format!("line {line_no}: expected a JSON object"));
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    let context = flagpost::labelled::context_of(object.get("context"))
        .map_err(|e| format!("line {line_no}: {e}"))?;
    match object.remove("text") {
        Some(Value::String(text)) => Ok(PostLine { id, text, context }),
        Some(_) => Err(format!("line {line_no}: `text` is not a string")),
        None => Err(format!("line {line_no}: no `text` field")),
    }
}

pub fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One line of at most `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Progress of a long run on standard error, shown only when standard error is a terminal (so
/// pipes, logs and CI see nothing but the command's own lines).
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// `total` when known (a bar), else a counter; `unit` names what is counted.
    pub fn new(total: Option<u64>, unit: &'static str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let (bar, template) = match total {
            Some(n) => (
                indicatif::ProgressBar::new(n),
                "{bar:30} {human_pos}/{human_len} {msg}, {elapsed} ({eta} left)",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {human_pos} {msg}, {elapsed}",
            ),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(unit);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        Progress(Some(bar))
    }

    pub fn active(&self) -> bool {
        self.0.is_some()
    }

    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    pub fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
