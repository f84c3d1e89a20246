//! Where things stand in a pack's source, for error messages: found in one pass each, so
//! locating is linear in the pack's size however many rules and signals it has.

use std::collections::HashMap;

use super::PackFormat;
use crate::utf8::floor_char_boundary;

/// Byte offsets of every `id = "…"` in the source, by id, in order.
fn id_offsets(source: &str, format: PackFormat) -> HashMap<String, Vec<usize>> {
    let pattern = match format {
        PackFormat::Toml => r#"(?m)^[ \t]*id[ \t]*=[ \t]*["']([^"'\n]*)["']"#,
        PackFormat::Json => r#""id"\s*:\s*"([^"\n]*)""#,
    };
    let mut offsets: HashMap<String, Vec<usize>> = HashMap::new();
    if let Ok(re) = regex::Regex::new(pattern) {
        for c in re.captures_iter(source) {
            let whole = c.get(0).map_or(0, |m| m.start());
            let indent = c[0].len() - c[0].trim_start().len();
            offsets
                .entry(c[1].to_string())
                .or_default()
                .push(whole + indent);
        }
    }
    offsets
}

/// Byte offset of the first place each table key (`name = …` or `[signals.name]`,
/// `"name":` in JSON) is written, by name. Signals and models are found here in one pass,
/// however many a pack has.
fn key_offsets(source: &str, format: PackFormat) -> HashMap<String, usize> {
    let pattern = match format {
        PackFormat::Toml => {
            r#"(?m)^[ \t]*(?:\[(?:signals|models)\.["']?([A-Za-z0-9_-]+)["']?\]|["']?([A-Za-z0-9_-]+)["']?[ \t]*=)"#
        }
        PackFormat::Json => r#""([A-Za-z0-9_-]+)"\s*:"#,
    };
    let mut offsets = HashMap::new();
    // Signals and models sit under their tables; keys before them are not theirs.
    let from = source
        .find("signals")
        .into_iter()
        .chain(source.find("models"))
        .min()
        .map_or(0, |i| i.saturating_sub(1));
    if let Ok(re) = regex::Regex::new(pattern) {
        for c in re.captures_iter(&source[from..]) {
            let Some(name) = c.get(1).or_else(|| c.get(2)) else {
                continue;
            };
            let whole = c.get(0).map_or(0, |m| m.start());
            let indent = c[0].len() - c[0].trim_start().len();
            offsets
                .entry(name.as_str().to_string())
                .or_insert(from + whole + indent);
        }
    }
    offsets
}

/// Line starts of a source, for turning byte offsets into lines and columns in log time.
pub(super) struct LineIndex {
    pub starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub fn line_column(&self, source: &str, byte: usize) -> (usize, usize) {
        let byte = byte.min(source.len());
        let line = self.starts.partition_point(|&s| s <= byte);
        let start = self.starts[line - 1];
        let end = floor_char_boundary(source, byte).max(start);
        (line, source[start..end].chars().count() + 1)
    }
}

/// A pack's source with its ids, keys and lines indexed.
pub(super) struct Locator<'a> {
    pub source: &'a str,
    pub format: PackFormat,
    id_offsets: HashMap<String, Vec<usize>>,
    key_offsets: HashMap<String, usize>,
    pub lines: LineIndex,
}

impl<'a> Locator<'a> {
    pub fn new(source: &'a str, format: PackFormat) -> Locator<'a> {
        Locator {
            source,
            format,
            id_offsets: id_offsets(source, format),
            key_offsets: key_offsets(source, format),
            lines: LineIndex::new(source),
        }
    }

    pub fn find_key(&self, key: &str) -> Option<(usize, usize)> {
        let pattern = match self.format {
            PackFormat::Toml => format!(r#"(?m)^\s*{}\s*="#, regex::escape(key)),
            PackFormat::Json => format!(r#""{}"\s*:"#, regex::escape(key)),
        };
        self.find_pattern(&pattern, 0, 1)
    }

    pub fn find_rule(&self, id: &str, occurrence: usize) -> Option<(usize, usize)> {
        let offset = *self.id_offsets.get(id)?.get(occurrence - 1)?;
        Some(self.lines.line_column(self.source, offset))
    }

    /// Where a signal or a model is defined.
    pub fn find_signal(&self, name: &str) -> Option<(usize, usize)> {
        let offset = *self.key_offsets.get(name)?;
        Some(self.lines.line_column(self.source, offset))
    }

    /// The first place after `after` where `text` is written (as is or JSON-escaped).
    pub fn find_text(&self, text: &str, after: Option<(usize, usize)>) -> Option<(usize, usize)> {
        let from = after.map_or(0, |(line, _)| {
            self.lines.starts.get(line - 1).copied().unwrap_or(0)
        });
        let hay = self.source.get(from..)?;
        let escaped = serde_json::to_string(text).ok()?;
        let escaped = &escaped[1..escaped.len() - 1];
        let at = hay.find(text).or_else(|| hay.find(escaped))?;
        Some(self.lines.line_column(self.source, from + at))
    }

    pub fn find_pattern(
        &self,
        pattern: &str,
        from: usize,
        occurrence: usize,
    ) -> Option<(usize, usize)> {
        let re = regex::Regex::new(pattern).ok()?;
        let m = re.find_iter(self.source.get(from..)?).nth(occurrence - 1)?;
        let text = m.as_str();
        let skip = text.len() - text.trim_start().len();
        Some(self.lines.line_column(self.source, from + m.start() + skip))
    }
}
