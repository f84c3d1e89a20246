//! The pack file format as serde reads it (TOML or JSON), and [`parse_pack`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::validate::Validator;
use super::{Example, Examples, NumberRange, PackFormat, RulePack, Severity};
use crate::error::{line_column, ErrorKind, PackError, PackErrors};
use crate::limits::MAX_PACK_BYTES;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPack {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) version: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) languages: Vec<String>,
    pub(super) license: String,
    pub(super) threshold: f64,
    #[serde(default)]
    pub(super) signals: BTreeMap<String, RawCondition>,
    #[serde(default)]
    pub(super) models: BTreeMap<String, RawModel>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    #[serde(default)]
    pub(super) examples: RawExamples,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    #[serde(default)]
    pub(super) description: String,
    pub(super) bias: f64,
    pub(super) weights: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: String,
    pub(super) category: String,
    pub(super) severity: Severity,
    pub(super) weight: f64,
    pub(super) description: String,
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    pub(super) condition: RawCondition,
    #[serde(default)]
    pub(super) examples: RawExamples,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    pub(super) phrases: Option<Vec<String>>,
    pub(super) regex: Option<String>,
    pub(super) range: Option<NumberRange>,
    pub(super) signal: Option<String>,
    pub(super) all: Option<Vec<RawCondition>>,
    pub(super) any: Option<Vec<RawCondition>>,
    pub(super) none: Option<Vec<RawCondition>>,
    pub(super) at_least: Option<i64>,
    pub(super) of: Option<Vec<RawCondition>>,
    pub(super) near: Option<Vec<RawCondition>>,
    pub(super) within: Option<i64>,
    pub(super) context: Option<Box<RawCondition>>,
    pub(super) model: Option<String>,
    pub(super) above: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExamples {
    #[serde(default)]
    pub(super) flag: Vec<RawExample>,
    #[serde(default)]
    pub(super) pass: Vec<RawExample>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawExample {
    Text(String),
    Detailed(DetailedExample),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DetailedExample {
    pub(super) text: String,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) note: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) context: Option<String>,
}

impl RawExamples {
    pub(super) fn into_examples(self) -> Examples {
        let text = |e: RawExample| match e {
            RawExample::Text(text) => Example {
                text,
                context: None,
            },
            RawExample::Detailed(d) => Example {
                text: d.text,
                context: d.context,
            },
        };
        Examples {
            flag: self.flag.into_iter().map(text).collect(),
            pass: self.pass.into_iter().map(text).collect(),
        }
    }
}

/// Parses and validates one pack. `origin` names it in errors (usually the file name).
pub fn parse_pack(source: &str, format: PackFormat, origin: &str) -> Result<RulePack, PackErrors> {
    if source.len() > MAX_PACK_BYTES {
        return Err(PackError::new(
            origin,
            format!(
                "pack is {} bytes; the limit is {MAX_PACK_BYTES}",
                source.len()
            ),
        )
        .kind(ErrorKind::Limit)
        .into());
    }
    let raw: RawPack = match format {
        PackFormat::Toml => toml::from_str(source).map_err(|e| {
            let at = e.span().map(|s| line_column(source, s.start));
            PackError::new(origin, e.message().trim().to_string())
                .at(at)
                .kind(ErrorKind::Syntax)
        })?,
        PackFormat::Json => serde_json::from_str(source).map_err(|e| {
            let at = (e.line() > 0).then(|| (e.line(), e.column()));
            PackError::new(origin, strip_json_position(&e.to_string()))
                .at(at)
                .kind(ErrorKind::Syntax)
        })?,
    };
    let models = raw.models.keys().cloned().collect();
    Validator::new(source, format, origin, models).validate(raw)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
