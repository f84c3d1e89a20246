//! Why each rule did or did not fire: the condition tree with each part's truth and words.

use super::scan::{cut, merged_spans};
use super::*;

impl Engine {
    /// Why each rule did or did not fire on a post, for people tuning a pack: every rule's
    /// condition as a tree of parts, each marked true (`+`) or false (`-`), signals by name
    /// with the words they matched.
    pub fn trace(&self, text: &str, context: Option<&str>) -> String {
        let mut s = Scratch::default();
        let verdict = self.scan_in_context(text, context, &mut s);
        let (text, _) = cut(text);
        let mut out = String::new();
        for rule in &self.rules {
            let info = &self.packs[rule.pack].rules[rule.rule];
            let fired = verdict
                .rules
                .iter()
                .any(|r| r.pack == rule.pack && r.rule == rule.rule);
            out.push_str(&format!(
                "{} {} (weight {})\n",
                if fired { "+" } else { "-" },
                info.id,
                info.weight
            ));
            self.trace_node(&rule.node, text, &mut s, 1, &mut out);
        }
        out
    }

    fn trace_node(&self, node: &Node, text: &str, s: &mut Scratch, depth: usize, out: &mut String) {
        let truth = self.truth(node, s);
        let mark = if truth { "+" } else { "-" };
        let pad = "  ".repeat(depth);
        let words = |this: &Self, n: &Node, s: &mut Scratch| -> String {
            let mut hits = Vec::new();
            this.collect(n, s, &mut hits);
            let spans = merged_spans(&hits, |a, b| s.norm.original_span(text, a, b));
            let shown: Vec<String> = spans
                .iter()
                .take(6)
                .map(|sp| format!("\"{}\"", &text[sp.start..sp.end]))
                .collect();
            if shown.is_empty() {
                String::new()
            } else {
                format!(": {}", shown.join(", "))
            }
        };
        match node {
            Node::Leaf(_) => {
                let w = if truth {
                    words(self, node, s)
                } else {
                    String::new()
                };
                out.push_str(&format!("{pad}{mark} words{w}\n"));
            }
            Node::Signal(i) => {
                let w = if truth {
                    words(self, node, s)
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "{pad}{mark} {}{w}\n",
                    self.signal_names[*i as usize]
                ));
            }
            Node::All(parts)
            | Node::Any(parts)
            | Node::None(parts)
            | Node::AtLeast(_, parts)
            | Node::Near(_, parts) => {
                let kind = match node {
                    Node::All(_) => "all".to_string(),
                    Node::Any(_) => "any".to_string(),
                    Node::None(_) => "none".to_string(),
                    Node::AtLeast(n, _) => format!("at least {n} of"),
                    Node::Near(w, _) => format!("near, within {w} words"),
                    _ => String::new(),
                };
                out.push_str(&format!("{pad}{mark} {kind}\n"));
                if depth < 4 {
                    for p in parts {
                        self.trace_node(p, text, s, depth + 1, out);
                    }
                }
            }
            Node::Context(inner) => {
                out.push_str(&format!("{pad}{mark} context\n"));
                self.trace_node(inner, text, s, depth + 1, out);
            }
        }
    }
}
