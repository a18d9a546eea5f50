//! Rows, tables and JSON.
//!
//! A scenario gives a [`Section`]: a Markdown table for people (so a run pastes straight
//! into `bench/RESULTS.md`) and, for `--json`, the same rows as objects with at least
//! `scenario`, `target`, `rps`, `p50_ms`, `p99_ms` and `ratio_to_baseline` (null where a
//! figure does not apply), plus fields of their own.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::machine::Machine;

/// One measured row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub target: String,
    pub rps: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ratio_to_baseline: Option<f64>,
    /// Scenario-specific fields (connections, resident memory, sample counts, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The row as the text table shows it.
    #[serde(skip)]
    pub cells: Vec<String>,
}

impl Row {
    pub fn new(scenario: &'static str, target: impl Into<String>) -> Self {
        Self {
            scenario,
            target: target.into(),
            rps: None,
            p50_ms: None,
            p99_ms: None,
            ratio_to_baseline: None,
            extra: Map::new(),
            cells: Vec::new(),
        }
    }

    pub fn extra(mut self, key: &str, value: impl Serialize) -> Self {
        self.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn cells(mut self, cells: Vec<String>) -> Self {
        self.cells = cells;
        self
    }
}

/// One scenario's results.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// What a reader needs to read the table right, and anything that looked wrong.
    pub notes: Vec<String>,
    /// How many leading columns are names rather than figures.
    text_columns: usize,
}

impl Section {
    pub fn new(title: impl Into<String>, columns: Vec<&'static str>) -> Self {
        Self {
            title: title.into(),
            columns,
            rows: Vec::new(),
            notes: Vec::new(),
            text_columns: 1,
        }
    }

    /// The first `n` columns hold names (left-aligned); the others figures.
    pub fn text_columns(mut self, n: usize) -> Self {
        self.text_columns = n;
        self
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.cells.get(i))
                    .map(|c| c.chars().count())
                    .chain([self.columns[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let left = |i: usize| i < self.text_columns;
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if left(i) {
                        format!(" {c:<w$} ")
                    } else {
                        format!(" {c:>w$} ")
                    }
                })
                .collect();
            format!("|{}|\n", padded.join("|"))
        };
        out.push_str(&line(self.columns.clone()));
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if left(i) {
                    "-".repeat(w + 2)
                } else {
                    format!("{}:", "-".repeat(w + 1))
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in &self.rows {
            out.push_str(&line(row.cells.iter().map(String::as_str).collect()));
        }
        for note in &self.notes {
            out.push_str(&format!("\n- {note}"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// A whole run.
pub struct Report {
    pub machine: Machine,
    /// How the run was set up (rounds, durations, pinning, versions).
    pub settings: Vec<String>,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = format!("Machine: {}\n", self.machine);
        for s in &self.settings {
            out.push_str(&format!("{s}\n"));
        }
        for section in &self.sections {
            out.push('\n');
            out.push_str(&section.markdown());
        }
        out
    }

    pub fn json(&self) -> Value {
        let rows: Vec<&Row> = self.sections.iter().flat_map(|s| &s.rows).collect();
        let notes: Vec<String> = self
            .sections
            .iter()
            .flat_map(|s| s.notes.iter().map(move |n| format!("{}: {n}", s.title)))
            .collect();
        json!({
            "machine": self.machine,
            "settings": self.settings,
            "rows": rows,
            "notes": notes,
        })
    }
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// Milliseconds with a precision that suits their size.
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "-".into()
    } else if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 1000.0 {
        format!("{value:.0} ms")
    } else {
        format!("{:.2} s", value / 1000.0)
    }
}

pub fn ratio(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}x")
    } else {
        "-".into()
    }
}

pub fn mib(bytes: f64) -> String {
    if bytes.is_finite() {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(0.4567), "0.46 ms");
        assert_eq!(ms(123.4), "123 ms");
        assert_eq!(ms(2500.0), "2.50 s");
        assert_eq!(ratio(0.5), "0.50x");
    }

    #[test]
    fn a_section_renders_as_a_markdown_table() {
        let mut section = Section::new("T", vec!["target", "req/s"]);
        section
            .rows
            .push(Row::new("http", "a").cells(vec!["a".into(), "1,000".into()]));
        let text = section.markdown();
        assert!(text.contains("| target | req/s |"), "{text}");
        assert!(text.contains("| a      | 1,000 |"), "{text}");
        assert!(text.contains("|--------|------:|"), "{text}");
        let two = Section::new("T", vec!["a", "b"]).text_columns(2).markdown();
        assert!(two.contains("|---|---|"), "{two}");
    }

    #[test]
    fn json_rows_carry_the_required_fields() {
        let row = Row::new("http", "x").extra("connections", 64);
        let value = serde_json::to_value(&row).unwrap();
        for key in [
            "scenario",
            "target",
            "rps",
            "p50_ms",
            "p99_ms",
            "ratio_to_baseline",
            "connections",
        ] {
            assert!(value.get(key).is_some(), "{key} missing: {value}");
        }
        assert!(value.get("cells").is_none());
    }
}
