//! Records (collections, hits, points) printed as an aligned table for
//! people, or CSV / JSON for scripts: one renderer for every remote command.

use std::fmt::Write;

use clap::ValueEnum;
use serde_json::Value;

/// `--format` of the remote commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns under a header line.
    #[default]
    Table,
    /// A header line, then one comma-separated line per record (RFC 4180
    /// quoting; payloads as JSON).
    Csv,
    /// One JSON array of objects keyed by the column names.
    Json,
}

/// `rows` (each one value per column of `header`) in `format`,
/// newline-terminated.
pub(crate) fn render(format: Format, header: &[&str], rows: &[Vec<Value>]) -> String {
    let mut s = String::new();
    match format {
        Format::Table => table(&mut s, header, rows),
        Format::Csv => csv(&mut s, header, rows),
        Format::Json => {
            let objects: Vec<Value> = rows
                .iter()
                .map(|row| {
                    Value::Object(
                        header
                            .iter()
                            .zip(row)
                            .map(|(h, v)| (h.to_string(), v.clone()))
                            .collect(),
                    )
                })
                .collect();
            s = Value::Array(objects).to_string();
            s.push('\n');
        }
    }
    s
}

/// A value as a cell: strings bare, everything else as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(s: &mut String, header: &[&str], rows: &[Vec<Value>]) {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |s: &mut String, values: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (value, width) in values.zip(&widths) {
            // Writing to a String cannot fail.
            let _ = write!(text, "{value:<width$}  ");
        }
        s.push_str(text.trim_end());
        s.push('\n');
    };
    line(s, &mut header.iter().copied());
    for row in &cells {
        line(s, &mut row.iter().map(String::as_str));
    }
}

fn csv(s: &mut String, header: &[&str], rows: &[Vec<Value>]) {
    let quote = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    s.push_str(&header.join(","));
    s.push('\n');
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| quote(&cell(v))).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_format_holds_the_same_records() {
        let header = ["id", "distance", "payload"];
        let rows = vec![
            vec![json!(7), json!(0.25), json!({"t": "a,b"})],
            vec![json!(12), json!(1.0), json!({})],
        ];
        assert_eq!(
            render(Format::Table, &header, &rows),
            "id  distance  payload\n7   0.25      {\"t\":\"a,b\"}\n12  1.0       {}\n"
        );
        assert_eq!(
            render(Format::Csv, &header, &rows),
            "id,distance,payload\n7,0.25,\"{\"\"t\"\":\"\"a,b\"\"}\"\n12,1.0,{}\n"
        );
        let parsed: Value = serde_json::from_str(&render(Format::Json, &header, &rows)).unwrap();
        assert_eq!(
            parsed[0],
            json!({"id": 7, "distance": 0.25, "payload": {"t": "a,b"}})
        );
        assert_eq!(parsed[1]["id"], 12);
    }
}
