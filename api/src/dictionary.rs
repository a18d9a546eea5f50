//! Data dictionaries: the values a key has in each system (a CRM's currency `USD`,
//! an accounting system's `840`), and translations between them, which services read
//! through the `dictionary` import (`translate`).
//!
//! An **entry** is a (system, key, value) triple. A **translation** links two entries
//! of different (system, key) pairs and is usable both ways: `crm/currency/USD` <->
//! `accounting/currency/840` translates `USD` to `840` and `840` to `USD`. An entry has
//! at most one translation into each other (system, key): setting a new one replaces
//! the old one, so a translation answers one value.
//!
//! A dictionary travels as [`Dictionary`] (JSON: `{"entries": [...], "translations":
//! [...]}`) or as CSV with a header line naming the columns `system1`, `key1`,
//! `value1`, `system2`, `key2` and `value2` (in any order); a row whose three last
//! columns are empty is an entry without a translation. [`parse`] reads either and
//! checks every value, naming the line (CSV) or the item (JSON) at fault; [`to_csv`]
//! writes the CSV.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest system or key name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 255;
/// The CSV columns, in the order [`to_csv`] writes them.
pub const CSV_COLUMNS: [&str; 6] = ["system1", "key1", "value1", "system2", "key2", "value2"];

/// A value of a key in a system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DictEntry {
    /// The system the value belongs to, e.g. `crm`.
    #[cfg_attr(feature = "openapi", schema(example = "crm"))]
    pub system: String,
    /// The key, e.g. `currency`.
    #[cfg_attr(feature = "openapi", schema(example = "currency"))]
    pub key: String,
    /// The value, e.g. `USD`.
    #[cfg_attr(feature = "openapi", schema(example = "USD"))]
    pub value: String,
}

/// A translation between two entries, usable both ways.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DictTranslation {
    /// The first entry's system.
    #[cfg_attr(feature = "openapi", schema(example = "crm"))]
    pub system1: String,
    /// The first entry's key.
    #[cfg_attr(feature = "openapi", schema(example = "currency"))]
    pub key1: String,
    /// The first entry's value.
    #[cfg_attr(feature = "openapi", schema(example = "USD"))]
    pub value1: String,
    /// The second entry's system.
    #[cfg_attr(feature = "openapi", schema(example = "accounting"))]
    pub system2: String,
    /// The second entry's key.
    #[cfg_attr(feature = "openapi", schema(example = "currency"))]
    pub key2: String,
    /// The second entry's value.
    #[cfg_attr(feature = "openapi", schema(example = "840"))]
    pub value2: String,
}

impl DictTranslation {
    /// The first entry.
    pub fn first(&self) -> DictEntry {
        DictEntry {
            system: self.system1.clone(),
            key: self.key1.clone(),
            value: self.value1.clone(),
        }
    }

    /// The second entry.
    pub fn second(&self) -> DictEntry {
        DictEntry {
            system: self.system2.clone(),
            key: self.key2.clone(),
            value: self.value2.clone(),
        }
    }

    /// The same translation, its entries swapped.
    pub fn reversed(&self) -> Self {
        Self {
            system1: self.system2.clone(),
            key1: self.key2.clone(),
            value1: self.value2.clone(),
            system2: self.system1.clone(),
            key2: self.key1.clone(),
            value2: self.value1.clone(),
        }
    }
}

impl fmt::Display for DictEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.system, self.key, self.value)
    }
}

/// A whole dictionary, or a part of one: entries and the translations between them.
/// Every entry a translation links is an entry of the dictionary, whether `entries`
/// names it or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Dictionary {
    /// The entries, by system, key and value (in an answer, every entry, those of the
    /// translations included).
    #[serde(default)]
    pub entries: Vec<DictEntry>,
    /// The translations, each once, by their first entry then their second.
    #[serde(default)]
    pub translations: Vec<DictTranslation>,
}

/// How a dictionary is written for an import or an export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DictFormat {
    /// A header line, then one translation (or entry) a line.
    #[default]
    Csv,
    /// A [`Dictionary`] as JSON.
    Json,
}

impl DictFormat {
    /// `csv` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for DictFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DictFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown dictionary format `{other}`: csv or json")),
        }
    }
}

/// An import: a dictionary as CSV or JSON text, merged into the stored one or
/// replacing it. All or nothing: one bad line and nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DictImport {
    /// How `data` is written.
    #[serde(default)]
    pub format: DictFormat,
    /// The CSV text or the JSON document (a [`Dictionary`]).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "system1,key1,value1,system2,key2,value2\ncrm,currency,USD,accounting,currency,840\n"
        )
    )]
    pub data: String,
    /// Replace the whole stored dictionary with this one; otherwise its entries are
    /// added and its translations replace those they conflict with.
    #[serde(default)]
    pub replace: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DictImported {
    /// The entries the import named (those of its translations included).
    pub entries: u64,
    /// The translations it named.
    pub translations: u64,
    /// Whether it replaced the whole dictionary.
    pub replaced: bool,
}

/// A dictionary written out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DictExport {
    /// How `data` is written.
    pub format: DictFormat,
    /// The CSV text or the JSON document, as an import reads it back.
    pub data: String,
    /// How many entries it holds.
    pub entries: u64,
    /// How many translations it holds.
    pub translations: u64,
}

/// What a delete removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DictDeleted {
    /// Entries removed.
    pub entries: u64,
    /// Translations removed (those of the removed entries included).
    pub translations: u64,
}

/// The answer of a translation asked of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DictTranslated {
    /// The value in the second system's key, or `null` when there is no translation.
    pub value: Option<String>,
}

/// Checks a system or key name: 1 to [`MAX_NAME_CHARS`] characters, no control
/// character, no space at either end.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    check(what, name, MAX_NAME_CHARS)
}

/// Checks a value: 1 to [`MAX_VALUE_CHARS`] characters, no control character, no
/// space at either end.
pub fn check_value(what: &str, value: &str) -> Result<(), String> {
    check(what, value, MAX_VALUE_CHARS)
}

fn check(what: &str, text: &str, longest: usize) -> Result<(), String> {
    let problem = if text.is_empty() {
        "is empty".to_owned()
    } else if text.chars().count() > longest {
        format!("is longer than {longest} characters")
    } else if text.chars().any(char::is_control) {
        "contains a control character".to_owned()
    } else if text.starts_with(' ') || text.ends_with(' ') {
        "starts or ends with a space".to_owned()
    } else {
        return Ok(());
    };
    Err(format!("{what} `{}` {problem}", text.escape_debug()))
}

/// Checks an entry; `at` says where it was read (`line 4`, `entries[2]`).
pub fn check_entry(at: &str, entry: &DictEntry) -> Result<(), String> {
    check_name(&format!("{at}: system"), &entry.system)?;
    check_name(&format!("{at}: key"), &entry.key)?;
    check_value(&format!("{at}: value"), &entry.value)
}

/// Checks a translation; `at` says where it was read.
pub fn check_translation(at: &str, t: &DictTranslation) -> Result<(), String> {
    check_name(&format!("{at}: system1"), &t.system1)?;
    check_name(&format!("{at}: key1"), &t.key1)?;
    check_value(&format!("{at}: value1"), &t.value1)?;
    check_name(&format!("{at}: system2"), &t.system2)?;
    check_name(&format!("{at}: key2"), &t.key2)?;
    check_value(&format!("{at}: value2"), &t.value2)?;
    if t.system1 == t.system2 && t.key1 == t.key2 {
        return Err(format!(
            "{at}: a translation links two different (system, key) pairs, not \
             `{}`/`{}` to itself",
            t.system1, t.key1
        ));
    }
    Ok(())
}

/// Reads a dictionary written as `format` and checks it whole: every value, and that
/// no two of its translations give one entry two values in one (system, key). The
/// error names the line (CSV) or the item (JSON) at fault.
pub fn parse(format: DictFormat, data: &str) -> Result<Dictionary, String> {
    let labelled = match format {
        DictFormat::Csv => parse_csv(data)?,
        DictFormat::Json => {
            let dict: Dictionary = serde_json::from_str(data)
                .map_err(|e| format!("the JSON dictionary does not read: {e}"))?;
            Labelled {
                entries: (dict.entries.into_iter().enumerate())
                    .map(|(i, e)| (format!("entries[{i}]"), e))
                    .collect(),
                translations: (dict.translations.into_iter().enumerate())
                    .map(|(i, t)| (format!("translations[{i}]"), t))
                    .collect(),
            }
        }
    };
    labelled.check()
}

/// A dictionary as read, each item with where it was read.
struct Labelled {
    entries: Vec<(String, DictEntry)>,
    translations: Vec<(String, DictTranslation)>,
}

impl Labelled {
    fn check(self) -> Result<Dictionary, String> {
        for (at, entry) in &self.entries {
            check_entry(at, entry)?;
        }
        // (entry, other system, other key) -> (the other value, where it was read).
        let mut seen: HashMap<(DictEntry, &str, &str), (&str, &str)> = HashMap::new();
        let mut translations = Vec::with_capacity(self.translations.len());
        for (at, t) in &self.translations {
            check_translation(at, t)?;
            let directions = [
                (t.first(), [&t.system2, &t.key2, &t.value2]),
                (t.second(), [&t.system1, &t.key1, &t.value1]),
            ];
            for (from, [system, key, value]) in directions {
                let at_key = (from, system.as_str(), key.as_str());
                match seen.get(&at_key) {
                    Some((before, there)) if *before != value.as_str() => {
                        return Err(format!(
                            "{at}: {} translates to `{before}` in {system}/{key} already \
                             ({there}), not also to `{value}`",
                            at_key.0
                        ));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(at_key, (value.as_str(), at.as_str()));
                    }
                }
            }
            translations.push(t.clone());
        }
        Ok(Dictionary {
            entries: self.entries.into_iter().map(|(_, e)| e).collect(),
            translations,
        })
    }
}

/// Reads CSV (RFC 4180: fields quoted with `"` may hold commas, line breaks and `""`
/// for a quote; lines end with LF or CRLF), the first record naming the columns.
fn parse_csv(data: &str) -> Result<Labelled, String> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut records = records(data)?.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(format!(
            "the CSV is empty: it needs a header line naming the columns {}",
            CSV_COLUMNS.join(",")
        ));
    };
    // Column i of a record holds CSV_COLUMNS[position[i]].
    let mut position = Vec::with_capacity(header.len());
    for name in &header {
        let name = name.trim();
        let Some(at) = CSV_COLUMNS.iter().position(|c| *c == name) else {
            return Err(format!(
                "line 1: unknown column `{}`; the columns are {}",
                name.escape_debug(),
                CSV_COLUMNS.join(",")
            ));
        };
        if position.contains(&at) {
            return Err(format!("line 1: column `{name}` is named twice"));
        }
        position.push(at);
    }
    if let Some(missing) = (0..CSV_COLUMNS.len()).find(|i| !position.contains(i)) {
        return Err(format!(
            "line 1: no column `{}`; the columns are {}",
            CSV_COLUMNS[missing],
            CSV_COLUMNS.join(",")
        ));
    }
    let mut out = Labelled {
        entries: Vec::new(),
        translations: Vec::new(),
    };
    for (line, record) in records {
        if record.len() != header.len() {
            return Err(format!(
                "line {line}: {} fields, but the header names {} columns",
                record.len(),
                header.len()
            ));
        }
        let mut fields: [String; 6] = Default::default();
        for (i, field) in record.into_iter().enumerate() {
            fields[position[i]] = field;
        }
        let [system1, key1, value1, system2, key2, value2] = fields;
        let at = format!("line {line}");
        if system2.is_empty() && key2.is_empty() && value2.is_empty() {
            out.entries.push((
                at,
                DictEntry {
                    system: system1,
                    key: key1,
                    value: value1,
                },
            ));
        } else {
            out.translations.push((
                at,
                DictTranslation {
                    system1,
                    key1,
                    value1,
                    system2,
                    key2,
                    value2,
                },
            ));
        }
    }
    Ok(out)
}

/// The records of a CSV text, each with the line it starts on; blank lines are
/// skipped.
fn records(data: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut chars = data.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut record = Vec::new();
        let mut field = String::new();
        let mut blank = true;
        loop {
            match chars.next() {
                None => {
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() => {
                    blank = false;
                    // A quoted field, to its closing quote.
                    loop {
                        match chars.next() {
                            None => {
                                return Err(format!("line {start}: a quoted field is not closed"));
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',' | '\n' | '\r') => {}
                        Some(_) => {
                            return Err(format!(
                                "line {line}: text after the closing quote of a field"
                            ));
                        }
                    }
                }
                Some(',') => {
                    blank = false;
                    record.push(std::mem::take(&mut field));
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') => {
                    return Err(format!(
                        "line {line}: a quote inside an unquoted field (quote the whole \
                         field and double the quote)"
                    ));
                }
                Some(c) => {
                    if !c.is_whitespace() {
                        blank = false;
                    }
                    field.push(c);
                }
            }
        }
        if !(blank && record.len() == 1) {
            out.push((start, record));
        }
    }
    Ok(out)
}

/// Writes the translations, then the entries without one, as CSV with a header line.
pub fn to_csv(dict: &Dictionary) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    let mut row = |fields: [&str; 6]| {
        let quoted: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    };
    let mut translated = std::collections::HashSet::new();
    for t in &dict.translations {
        row([
            &t.system1, &t.key1, &t.value1, &t.system2, &t.key2, &t.value2,
        ]);
        translated.insert(t.first());
        translated.insert(t.second());
    }
    for e in dict.entries.iter().filter(|e| !translated.contains(*e)) {
        row([&e.system, &e.key, &e.value, "", "", ""]);
    }
    out
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s1: &str, k1: &str, v1: &str, s2: &str, k2: &str, v2: &str) -> DictTranslation {
        DictTranslation {
            system1: s1.into(),
            key1: k1.into(),
            value1: v1.into(),
            system2: s2.into(),
            key2: k2.into(),
            value2: v2.into(),
        }
    }

    #[test]
    fn csv_reads_translations_and_lone_entries_in_any_column_order() {
        let csv = "\u{feff}value1,system1,key1,system2,key2,value2\r\n\
                   USD,crm,currency,accounting,currency,840\r\n\
                   \n\
                   \"Euro, \"\"the\"\" one\",crm,currency,accounting,currency,978\n\
                   GBP,crm,currency,,,";
        let dict = parse(DictFormat::Csv, csv).unwrap();
        assert_eq!(
            dict.translations,
            [
                t("crm", "currency", "USD", "accounting", "currency", "840"),
                t(
                    "crm",
                    "currency",
                    "Euro, \"the\" one",
                    "accounting",
                    "currency",
                    "978"
                ),
            ]
        );
        assert_eq!(
            dict.entries,
            [DictEntry {
                system: "crm".into(),
                key: "currency".into(),
                value: "GBP".into()
            }]
        );
        // What to_csv writes reads back the same.
        let again = parse(DictFormat::Csv, &to_csv(&dict)).unwrap();
        assert_eq!(again, dict);
    }

    #[test]
    fn bad_input_is_refused_naming_the_line_or_the_field() {
        let header = "system1,key1,value1,system2,key2,value2\n";
        let cases = [
            ("", "the CSV is empty"),
            (
                "system1,key1,value1,system2,key2,colour\n",
                "line 1: unknown column `colour`",
            ),
            (
                "system1,key1,value1,system2,key2\n",
                "line 1: no column `value2`",
            ),
            (
                "system1,key1,value1,system2,key2,value2,key1\n",
                "line 1: column `key1` is named twice",
            ),
            (
                "system1,key1,value1,system2,key2,value2\ncrm,currency,USD,acc,currency\n",
                "line 2: 5 fields",
            ),
            ("x,currency,USD,acc,currency,840\n", "unknown column `x`"),
        ];
        for (csv, expected) in cases {
            let err = parse(DictFormat::Csv, csv).unwrap_err();
            assert!(err.contains(expected), "{csv:?}: {err}");
        }
        let rows = [
            (
                ",currency,USD,acc,currency,840",
                "line 3: system1 `` is empty",
            ),
            ("crm,currency,USD,acc,,840", "line 3: key2 `` is empty"),
            (
                "crm,currency,US\"D,acc,currency,840",
                "line 3: a quote inside",
            ),
            (
                "crm,currency,\"USD,acc,currency,840",
                "line 3: a quoted field is not closed",
            ),
            (
                "crm,currency,USD ,acc,currency,840",
                "line 3: value1 `USD ` starts or ends",
            ),
            (
                "crm,currency,USD,crm,currency,840",
                "line 3: a translation links two",
            ),
            (
                "crm,currency,USD,acc,currency,841",
                "line 3: crm/currency/USD translates to `840` in acc/currency already (line 2)",
            ),
            (
                "crm,currency,EUR,acc,currency,840",
                "line 3: acc/currency/840 translates to `USD` in crm/currency already (line 2)",
            ),
        ];
        for (row, expected) in rows {
            let csv = format!("{header}crm,currency,USD,acc,currency,840\n{row}\n");
            let err = parse(DictFormat::Csv, &csv).unwrap_err();
            assert!(err.contains(expected), "{row:?}: {err}");
        }
        // The same translation twice is no conflict.
        let twice = format!(
            "{header}crm,currency,USD,acc,currency,840\nacc,currency,840,crm,currency,USD\n"
        );
        assert_eq!(
            parse(DictFormat::Csv, &twice).unwrap().translations.len(),
            2
        );
    }

    #[test]
    fn json_names_the_item_or_the_field_at_fault() {
        let err = parse(
            DictFormat::Json,
            r#"{"translations": [{"system1": "a", "key1": "k", "value1": "v",
                "system2": "b", "key2": "k", "value2": "w", "colour": "red"}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = parse(
            DictFormat::Json,
            r#"{"entries": [{"system": "a", "key": "k", "value": "v"},
                            {"system": "", "key": "k", "value": "v"}]}"#,
        )
        .unwrap_err();
        assert!(err.starts_with("entries[1]: system `` is empty"), "{err}");
    }
}
