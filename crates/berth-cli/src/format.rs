//! `--format` handling shared by the listing commands: docker's `table` prefix with a header
//! row and aligned columns, `json`, raw templates; and `inspect`'s indented JSON array.

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::tabwriter;
use crate::template::Template;

/// Docker's escape handling: `\t` and `\n` typed literally become tab and newline.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// A parsed `--format` for a list of rows.
pub struct ListFormat {
    table: bool,
    tmpl: Template,
}

impl ListFormat {
    /// `format` as given by the user (None, "", "table" mean `default`, which starts with
    /// "table "); "json" means one JSON object per line.
    pub fn new(format: Option<&str>, default: &str) -> Result<ListFormat> {
        let f = match format.map(str::trim) {
            None | Some("") | Some("table") => default.to_string(),
            Some("json") => "{{json .}}".to_string(),
            Some(f) => f.to_string(),
        };
        let (table, body) = match f.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                (true, rest.trim_start())
            }
            _ => (false, f.as_str()),
        };
        let body = unescape(body.trim_matches(' '));
        Ok(ListFormat {
            table,
            tmpl: Template::parse(&body)?,
        })
    }

    /// Renders all rows; `header` maps field names to column titles.
    pub fn render(&self, header: &Value, rows: &[Value]) -> Result<String> {
        let mut out = String::new();
        if self.table {
            out.push_str(&self.tmpl.render_header(header)?);
            out.push('\n');
        }
        for row in rows {
            out.push_str(&self.tmpl.render_row(row)?);
            out.push('\n');
        }
        Ok(if self.table {
            tabwriter::table(&out)
        } else {
            out
        })
    }
}

/// Renders rows with `format` (or `default`) in one call.
pub fn list(format: Option<&str>, default: &str, header: &Value, rows: &[Value]) -> Result<String> {
    ListFormat::new(format, default)?.render(header, rows)
}

/// Go's `json.MarshalIndent(v, "", "    ")`.
pub fn json_indent(v: &Value) -> Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Go's `json.Indent(dst, src, "", "    ")`: re-indents JSON text keeping its key order and
/// escapes; empty objects and arrays stay `{}` and `[]`.
pub fn indent_raw(src: &[u8]) -> String {
    let text = String::from_utf8_lossy(src);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(depth));
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 1;
                    } else if chars[i] == '"' {
                        break;
                    }
                    i += 1;
                }
            }
            '{' | '[' => {
                out.push(c);
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if j < chars.len() && (chars[j] == '}' || chars[j] == ']') {
                    out.push(chars[j]);
                    i = j;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// `inspect` output without a template: the daemon's objects in an array, re-indented.
pub fn inspect_raw(objects: &[&[u8]]) -> String {
    if objects.is_empty() {
        return "[]\n".into();
    }
    let mut all = b"[".to_vec();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            all.push(b',');
        }
        all.extend_from_slice(o);
    }
    all.push(b']');
    format!("{}\n", indent_raw(&all))
}

/// `inspect` output: an indented JSON array, or each object through the template.
pub fn inspect(format: Option<&str>, objects: &[Value]) -> Result<String> {
    match format.map(str::trim) {
        None | Some("") => Ok(format!(
            "{}\n",
            json_indent(&Value::Array(objects.to_vec()))?
        )),
        Some(f) => {
            let f = if f == "json" { "{{json .}}" } else { f };
            let t = Template::parse(&unescape(f))?;
            let mut out = String::new();
            for o in objects {
                out.push_str(&t.render(o)?);
                out.push('\n');
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_with_header() {
        let header = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let rows = [json!({"ID": "0123456789ab", "Names": "web"})];
        let out = list(Some("table {{.ID}}\\t{{.Names}}"), "", &header, &rows).unwrap();
        assert_eq!(out, "CONTAINER ID   NAMES\n0123456789ab   web\n");
    }

    #[test]
    fn raw_and_json_formats() {
        let rows = [json!({"ID": "a", "N": 1}), json!({"ID": "b", "N": 2})];
        assert_eq!(
            list(Some("{{.ID}}:{{.N}}"), "", &json!({}), &rows).unwrap(),
            "a:1\nb:2\n"
        );
        assert_eq!(
            list(Some("json"), "", &json!({}), &rows[..1]).unwrap(),
            "{\"ID\":\"a\",\"N\":1}\n"
        );
    }

    #[test]
    fn empty_table_prints_header() {
        let out = list(
            None,
            "table {{.Name}}\t{{.Driver}}",
            &json!({"Name": "VOLUME NAME", "Driver": "DRIVER"}),
            &[],
        )
        .unwrap();
        assert_eq!(out, "VOLUME NAME   DRIVER\n");
    }

    #[test]
    fn raw_indent_keeps_order() {
        let out = inspect_raw(&[br#"{"Id":"x", "B":[], "A":{"s":"a\"}b,"},"L":[1,{}]}"#]);
        assert_eq!(
            out,
            "[\n    {\n        \"Id\": \"x\",\n        \"B\": [],\n        \"A\": {\n            \"s\": \"a\\\"}b,\"\n        },\n        \"L\": [\n            1,\n            {}\n        ]\n    }\n]\n"
        );
        assert_eq!(inspect_raw(&[]), "[]\n");
    }

    #[test]
    fn inspect_indent() {
        let out = inspect(None, &[json!({"Id": "x", "A": []})]).unwrap();
        assert_eq!(
            out,
            "[\n    {\n        \"A\": [],\n        \"Id\": \"x\"\n    }\n]\n"
        );
        assert_eq!(
            inspect(Some("{{.Id}}"), &[json!({"Id": "x"})]).unwrap(),
            "x\n"
        );
    }
}
