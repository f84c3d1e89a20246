//! Labelled posts and honest measurement: reading labelled JSON Lines, grouping rows by a
//! field (by site, for `source`), splitting the groups into folds, and counting outcomes.
//!
//! A pack written from some sites says little about how it does on others. Grouping by the
//! site a row was quoted from, and judging on folds of sites a pack was not written from, is
//! what gives a figure that carries over to new sources.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// One labelled post.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPost {
    pub text: String,
    /// Where the post appears (channel or group title, thread title), when known.
    pub context: Option<String>,
    pub label: bool,
    /// Every other field of the row (`kind`, `lang`, `source`, `needs_context`, …).
    pub fields: Map<String, Value>,
    /// 1-based line in the file it was read from.
    pub line: usize,
}

impl LabelledPost {
    /// A field's value as text, for grouping and tables: strings as they are, `true`/`false`,
    /// numbers as written; `None` when the field is missing or null.
    pub fn field(&self, name: &str) -> Option<String> {
        match name {
            "label" => Some(if self.label { "1" } else { "0" }.to_string()),
            "text" => Some(self.text.clone()),
            "context" => self.context.clone(),
            _ => value_text(self.fields.get(name)?),
        }
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The optional context of a post as the command line reads it: a string, a list of strings,
/// or an object of strings (`{"channel": "…", "thread": "…"}`), joined one per line.
pub fn context_of(v: Option<&Value>) -> Result<Option<String>, String> {
    let parts: Vec<&str> = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().ok_or("`context` list items must be strings"))
            .collect::<Result<_, _>>()?,
        Some(Value::Object(m)) => m
            .values()
            .map(|i| i.as_str().ok_or("`context` values must be strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`context` must be a string, a list or an object of strings".into()),
    };
    let joined = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Ok((!joined.is_empty()).then_some(joined))
}

/// A labelled row that cannot be read: its line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads labelled JSON Lines (`text`, `label` as true/false or 1/0, optional `context`, any
/// other fields). Errors name the line.
pub fn parse_labelled(source: &str) -> Result<Vec<LabelledPost>, RowError> {
    let mut posts = Vec::new();
    for (k, line) in source.lines().enumerate() {
        let line_no = k + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fail = |message: String| RowError {
            line: line_no,
            message,
        };
        let v: Value = serde_json::from_str(line).map_err(|e| fail(format!("not JSON: {e}")))?;
        let Value::Object(mut fields) = v else {
            return Err(fail("expected a JSON object".into()));
        };
        let text = match fields.remove("text") {
            Some(Value::String(t)) => t,
            _ => return Err(fail("no `text` string".into())),
        };
        let label = match fields.remove("label") {
            Some(Value::Bool(b)) => b,
            Some(Value::Number(n)) if n.as_f64() == Some(1.0) => true,
            Some(Value::Number(n)) if n.as_f64() == Some(0.0) => false,
            Some(Value::String(s)) if matches!(s.as_str(), "1" | "true") => true,
            Some(Value::String(s)) if matches!(s.as_str(), "0" | "false") => false,
            _ => return Err(fail("`label` must be true/false or 1/0".into())),
        };
        let context = context_of(fields.get("context")).map_err(fail)?;
        fields.remove("context");
        posts.push(LabelledPost {
            text,
            context,
            label,
            fields,
            line: line_no,
        });
    }
    Ok(posts)
}

/// A condition on rows: `field=value` keeps rows whose field has that value, `field!=value`
/// the others.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    pub field: String,
    pub value: String,
    pub keep_equal: bool,
}

impl std::str::FromStr for RowFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (field, value, keep_equal) = if let Some((f, v)) = s.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = s.split_once('=') {
            (f, v, true)
        } else {
            return Err(format!("`{s}` is not FIELD=VALUE or FIELD!=VALUE"));
        };
        if field.trim().is_empty() {
            return Err(format!("`{s}` names no field"));
        }
        Ok(RowFilter {
            field: field.trim().to_string(),
            value: value.trim().to_string(),
            keep_equal,
        })
    }
}

impl RowFilter {
    pub fn keeps(&self, post: &LabelledPost) -> bool {
        let value = post.field(&self.field);
        let equal = match value.as_deref() {
            Some(v) => v == self.value,
            // A missing field equals "" and "false" (an absent flag is not set).
            None => self.value.is_empty() || self.value == "false",
        };
        equal == self.keep_equal
    }
}

/// The group a row belongs to when rows are grouped by `field`. For `source` the group is
/// the site: a web address's host without `www.`, a repository path's `owner/name`.
pub fn group_key(post: &LabelledPost, field: &str) -> String {
    let value = post.field(field).unwrap_or_default();
    if field == "source" {
        site_of(&value)
    } else {
        value
    }
}

/// The site a source belongs to.
pub fn site_of(source: &str) -> String {
    let s = source.trim();
    if let Some(rest) = s.split_once("://").map(|(_, r)| r) {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or(host);
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        return host.strip_prefix("www.").unwrap_or(&host).to_string();
    }
    // `owner/repo:path@commit` (a file in a public repository).
    if let Some((repo, _)) = s.split_once(':') {
        if repo.contains('/') && !repo.contains(' ') {
            return repo.to_ascii_lowercase();
        }
    }
    s.to_string()
}

/// Splits rows into `k` folds so that every group lies in one fold. Groups are placed
/// largest first (by positives, then rows) into the fold with the least load (its shares of
/// the positives and of the rows, added); ties are broken by a hash of the group name and `seed`, so the split is the same
/// on every machine and changes with the seed.
pub fn assign_folds(posts: &[LabelledPost], field: &str, k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    /// Positives, rows, and the rows' indices.
    type Group = (usize, usize, Vec<usize>);
    let mut groups: HashMap<String, Group> = HashMap::new();
    for (i, p) in posts.iter().enumerate() {
        let g = groups.entry(group_key(p, field)).or_default();
        g.0 += usize::from(p.label);
        g.1 += 1;
        g.2.push(i);
    }
    let mut order: Vec<(String, Group)> = groups.into_iter().collect();
    order.sort_by(|a, b| (b.1 .0, b.1 .1, mix(&a.0, seed)).cmp(&(a.1 .0, a.1 .1, mix(&b.0, seed))));
    let mut fold_of = vec![0; posts.len()];
    let mut load = vec![(0usize, 0usize); k];
    let total_pos = posts.iter().filter(|p| p.label).count().max(1);
    let total = posts.len().max(1);
    for (name, (pos, rows, members)) in order {
        // The fold with the least load, positives and rows counting equally.
        let f = (0..k)
            .min_by_key(|&f| {
                let share = load[f].0 * total + load[f].1 * total_pos;
                (share, mix(&format!("{name}#{f}"), seed))
            })
            .unwrap_or(0);
        load[f].0 += pos;
        load[f].1 += rows;
        for i in members {
            fold_of[i] = f;
        }
    }
    fold_of
}

/// FNV-1a of a string with a seed: a stable tie-breaker.
fn mix(s: &str, seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Counts of a binary decision against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Confusion {
    pub fn add(&mut self, flagged: bool, label: bool) {
        match (flagged, label) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn merge(&mut self, other: &Confusion) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }

    /// Precision; 1.0 when nothing was flagged (no flag was wrong).
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }

    /// Recall; 1.0 when there was nothing to find.
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if self.tp == 0 || p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    pub fn positives(&self) -> usize {
        self.tp + self.fn_
    }

    pub fn negatives(&self) -> usize {
        self.fp + self.tn
    }

    pub fn total(&self) -> usize {
        self.positives() + self.negatives()
    }

    /// Share of negatives flagged.
    pub fn false_positive_rate(&self) -> f64 {
        if self.negatives() == 0 {
            0.0
        } else {
            self.fp as f64 / self.negatives() as f64
        }
    }
}

/// Outcomes tallied by the value of a field (`kind`, `lang`, …), in value order.
pub fn confusion_by(
    posts: &[LabelledPost],
    flagged: &[bool],
    field: &str,
) -> BTreeMap<String, Confusion> {
    let mut out: BTreeMap<String, Confusion> = BTreeMap::new();
    for (p, &f) in posts.iter().zip(flagged) {
        let key = p.field(field).unwrap_or_else(|| "(none)".to_string());
        out.entry(key).or_default().add(f, p.label);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(src: &str) -> Vec<LabelledPost> {
        parse_labelled(src).unwrap()
    }

    #[test]
    fn reads_labels_context_and_fields() {
        let r = rows(
            "{\"text\":\"a\",\"label\":1,\"kind\":\"x\"}\n\n\
             {\"text\":\"b\",\"label\":false,\"context\":{\"channel\":\"Добровольцы\",\"thread\":\" \"}}\n",
        );
        assert_eq!(r.len(), 2);
        assert!(r[0].label && !r[1].label);
        assert_eq!(r[0].field("kind").as_deref(), Some("x"));
        assert_eq!(r[1].context.as_deref(), Some("Добровольцы"));
        assert_eq!(r[1].line, 3);
        assert_eq!(
            parse_labelled("{\"text\":\"a\",\"label\":2}")
                .unwrap_err()
                .line,
            1
        );
        assert!(parse_labelled("{\"text\":\"a\",\"label\":1,\"context\":5}")
            .unwrap_err()
            .message
            .contains("context"));
    }

    #[test]
    fn sources_group_by_site() {
        assert_eq!(site_of("https://www.BBC.com/news/x?y=1"), "bbc.com");
        assert_eq!(site_of("http://user@kp.ua:8080/a"), "kp.ua");
        assert_eq!(
            site_of("LeonovAndrew/svo:local/templates/form.php@636a71"),
            "leonovandrew/svo"
        );
        assert_eq!(site_of("written for tests"), "written for tests");
    }

    #[test]
    fn folds_keep_groups_together_and_balance_positives() {
        let mut src = String::new();
        for i in 0..40 {
            src.push_str(&format!(
                "{{\"text\":\"t{i}\",\"label\":{},\"source\":\"https://s{}.org/{i}\"}}\n",
                i % 2,
                i % 10
            ));
        }
        let r = rows(&src);
        let folds = assign_folds(&r, "source", 5, 0);
        let mut site_fold = HashMap::new();
        for (p, f) in r.iter().zip(&folds) {
            let g = group_key(p, "source");
            assert_eq!(
                *site_fold.entry(g).or_insert(*f),
                *f,
                "a site split over folds"
            );
        }
        let mut pos = [0; 5];
        for (p, &f) in r.iter().zip(&folds) {
            pos[f] += usize::from(p.label);
        }
        assert_eq!(pos, [4; 5]);
        assert_eq!(folds, assign_folds(&r, "source", 5, 0));
    }

    #[test]
    fn filters_and_confusion() {
        let r = rows(
            "{\"text\":\"a\",\"label\":1,\"needs_context\":true}\n{\"text\":\"b\",\"label\":0}\n",
        );
        let f: RowFilter = "needs_context=false".parse().unwrap();
        assert!(!f.keeps(&r[0]) && f.keeps(&r[1]));
        let f: RowFilter = "needs_context!=true".parse().unwrap();
        assert!(!f.keeps(&r[0]) && f.keeps(&r[1]));
        assert!("nofield".parse::<RowFilter>().is_err());
        let mut c = Confusion::default();
        c.add(true, true);
        c.add(true, false);
        c.add(false, true);
        assert_eq!((c.precision(), c.recall()), (0.5, 0.5));
        assert_eq!(Confusion::default().precision(), 1.0);
    }
}
