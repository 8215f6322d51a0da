//! A subset of Go's text/template, enough for docker's `--format`: field paths, variables,
//! pipelines, `if`/`else`/`range`/`with`/`end`, trim markers, and docker's functions
//! (`json`, `join`, `split`, `lower`, `upper`, `title`, `pad`, `truncate`, `println`,
//! `index`, `len`, `eq`, `ne`, `not`, `and`, `or`, `printf`).

mod eval;
mod lex;
mod parse;

use serde_json::Value;

use crate::error::Result;

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `src`.
    pub fn parse(src: &str) -> Result<Template> {
        Ok(Template {
            nodes: parse::parse(src)?,
        })
    }

    /// Renders the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String> {
        eval::render(&self.nodes, data, eval::Mode::default())
    }

    /// Renders a row of a listing: like [`Template::render`], but `{{json .}}` escapes `<>&`
    /// as docker's row objects do when they marshal themselves.
    pub fn render_row(&self, data: &Value) -> Result<String> {
        let mode = eval::Mode {
            header: false,
            html_root: true,
        };
        eval::render(&self.nodes, data, mode)
    }

    /// Renders a table header: `data` maps field names to column titles, and the formatting
    /// functions hand back their first argument unchanged (as docker's header functions do).
    pub fn render_header(&self, data: &Value) -> Result<String> {
        let mode = eval::Mode {
            header: true,
            html_root: false,
        };
        eval::render(&self.nodes, data, mode)
    }
}

/// Renders `src` against `data` in one go.
#[cfg(test)]
pub fn render(src: &str, data: &Value) -> Result<String> {
    Template::parse(src)?.render(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(src: &str, data: Value) -> String {
        render(src, &data).unwrap()
    }

    #[test]
    fn fields_and_text() {
        let d = json!({"ID": "abc", "State": {"Status": "running", "Pid": 42}});
        assert_eq!(
            r("id={{.ID}} {{ .State.Status }}/{{.State.Pid}}", d.clone()),
            "id=abc running/42"
        );
        assert_eq!(r("{{.Nope}}", d.clone()), "<no value>");
        assert_eq!(r("{{.State.Nope.Deeper}}", d), "<no value>");
    }

    #[test]
    fn json_function() {
        let d = json!({"Config": {"Env": ["A=1", "B=<2>"]}, "N": 1.5});
        assert_eq!(r("{{json .Config.Env}}", d.clone()), r#"["A=1","B=<2>"]"#);
        assert_eq!(
            r("{{json .}}", json!({"b": 1, "a": "x"})),
            r#"{"a":"x","b":1}"#
        );
        assert_eq!(r("{{.N}} {{.Config.Env}}", d), "1.5 [A=1 B=<2>]");
    }

    #[test]
    fn range_if_and_variables() {
        let d = json!({"Mounts": [{"Source": "/a"}, {"Source": "/b"}], "Labels": {"x": "1", "a": "2"}, "On": true, "Off": ""});
        assert_eq!(
            r("{{range .Mounts}}{{.Source}};{{end}}", d.clone()),
            "/a;/b;"
        );
        assert_eq!(
            r(
                "{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}",
                d.clone()
            ),
            "a=2,x=1,"
        );
        assert_eq!(r("{{if .On}}yes{{else}}no{{end}}", d.clone()), "yes");
        assert_eq!(
            r("{{if .Off}}yes{{else if .On}}maybe{{end}}", d.clone()),
            "maybe"
        );
        assert_eq!(r("{{with .Labels}}{{.x}}{{end}}", d.clone()), "1");
        assert_eq!(
            r("{{range .Nope}}x{{else}}empty{{end}}", d.clone()),
            "empty"
        );
        assert_eq!(r("{{$m := .Mounts}}{{len $m}} {{$.On}}", d), "2 true");
    }

    #[test]
    fn functions_and_pipes() {
        let d = json!({"Names": ["a", "b"], "Name": "Web", "Labels": {"com.x": "v"}});
        assert_eq!(r("{{join .Names \",\"}}", d.clone()), "a,b");
        assert_eq!(r("{{.Name | lower}} {{upper .Name}}", d.clone()), "web WEB");
        assert_eq!(
            r("{{index .Labels \"com.x\"}} {{index .Names 1}}", d.clone()),
            "v b"
        );
        assert_eq!(
            r("{{truncate .Name 2}}|{{pad .Name 1 2}}|", d.clone()),
            "We| Web  |"
        );
        assert_eq!(r("{{if eq .Name \"Web\"}}same{{end}}", d.clone()), "same");
        assert_eq!(r("{{printf \"%s-%d\" .Name 3}}", d.clone()), "Web-3");
        assert_eq!(r("{{split \"a:b\" \":\"}}", d.clone()), "[a b]");
        assert_eq!(r("{{println .Name}}", d.clone()), "Web\n");
        assert_eq!(r("{{title \"hello world\"}}", d), "Hello World");
    }

    #[test]
    fn row_json_escapes_like_go() {
        let t = Template::parse("{{json .}} {{json .P}}").unwrap();
        let d = json!({"P": "a->b"});
        assert_eq!(t.render_row(&d).unwrap(), r#"{"P":"a-\u003eb"} "a->b""#);
        assert_eq!(t.render(&d).unwrap(), r#"{"P":"a->b"} "a->b""#);
    }

    #[test]
    fn trim_markers() {
        let d = json!({"A": "x"});
        assert_eq!(r("a  {{- .A -}}  b", d), "axb");
    }

    #[test]
    fn header_mode_passes_through() {
        let t = Template::parse("{{.ID}}\t{{json .Image}}\t{{lower .Names}}").unwrap();
        let h = json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES"});
        assert_eq!(t.render_header(&h).unwrap(), "CONTAINER ID\tIMAGE\tNAMES");
    }

    #[test]
    fn parse_errors() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{if .A}}x").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(render("{{nosuchfunc .A}}", &json!({})).is_err());
    }
}
