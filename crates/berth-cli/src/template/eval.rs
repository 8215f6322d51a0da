//! Evaluating the node tree against JSON data, Go-style printing, and the function table.

use serde_json::Value;

use super::parse::{Arg, Node, Pipe};
use crate::error::{Error, Result};

struct State {
    /// Variables in scope, innermost last; `""` is `$`, the root.
    vars: Vec<(String, Value)>,
    header: bool,
    /// `{{json .}}` on the root escapes `<>&` as Go's `json.Marshal` does (docker's list rows
    /// marshal themselves that way).
    html_root: bool,
    /// Dot is still the root (not inside `range` or `with`).
    dot_is_root: bool,
}

/// How a template is rendered.
#[derive(Clone, Copy, Default)]
pub struct Mode {
    pub header: bool,
    pub html_root: bool,
}

/// Renders `nodes` with `data` as dot (and `$`).
pub fn render(nodes: &[Node], data: &Value, mode: Mode) -> Result<String> {
    let mut st = State {
        vars: vec![(String::new(), data.clone())],
        header: mode.header,
        html_root: mode.html_root,
        dot_is_root: true,
    };
    let mut out = String::new();
    walk(nodes, data, &mut st, &mut out)?;
    Ok(out)
}

fn walk(nodes: &[Node], dot: &Value, st: &mut State, out: &mut String) -> Result<()> {
    let mark = st.vars.len();
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = pipe(p, dot, st)?;
                if p.decl.is_empty() {
                    out.push_str(&print_top(&v, st.header));
                } else {
                    declare(p, v, st)?;
                }
            }
            Node::If(p, yes, no) => {
                let v = pipe(p, dot, st)?;
                let inner = st.vars.len();
                if !p.decl.is_empty() {
                    declare(p, v.clone(), st)?;
                }
                walk(if truthy(&v) { yes } else { no }, dot, st, out)?;
                st.vars.truncate(inner);
            }
            Node::With(p, yes, no) => {
                let v = pipe(p, dot, st)?;
                let inner = st.vars.len();
                if truthy(&v) {
                    if !p.decl.is_empty() {
                        declare(p, v.clone(), st)?;
                    }
                    let was_root = std::mem::replace(&mut st.dot_is_root, false);
                    walk(yes, &v, st, out)?;
                    st.dot_is_root = was_root;
                } else {
                    walk(no, dot, st, out)?;
                }
                st.vars.truncate(inner);
            }
            Node::Range(p, body, alt) => range(p, body, alt, dot, st, out)?,
        }
    }
    st.vars.truncate(mark);
    Ok(())
}

fn range(
    p: &Pipe,
    body: &[Node],
    alt: &[Node],
    dot: &Value,
    st: &mut State,
    out: &mut String,
) -> Result<()> {
    let v = pipe(p, dot, st)?;
    let items: Vec<(Value, Value)> = match &v {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, e)| (Value::from(i), e.clone()))
            .collect(),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.into_iter()
                .map(|k| (Value::String(k.clone()), m[k].clone()))
                .collect()
        }
        Value::Null => Vec::new(),
        other => {
            return Err(Error::Template(format!(
                "range can't iterate over {}",
                print(other)
            )))
        }
    };
    if items.is_empty() {
        return walk(alt, dot, st, out);
    }
    for (key, elem) in items {
        let mark = st.vars.len();
        match p.decl.as_slice() {
            [] => {}
            [v] => st.vars.push((v.clone(), elem.clone())),
            [k, v, ..] => {
                st.vars.push((k.clone(), key));
                st.vars.push((v.clone(), elem.clone()));
            }
        }
        let was_root = std::mem::replace(&mut st.dot_is_root, false);
        walk(body, &elem, st, out)?;
        st.dot_is_root = was_root;
        st.vars.truncate(mark);
    }
    Ok(())
}

fn declare(p: &Pipe, v: Value, st: &mut State) -> Result<()> {
    let Some(name) = p.decl.first() else {
        return Ok(());
    };
    if p.assign {
        let slot = st
            .vars
            .iter_mut()
            .rev()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Template(format!("undefined variable: ${name}")))?;
        slot.1 = v;
    } else {
        st.vars.push((name.clone(), v));
    }
    Ok(())
}

fn pipe(p: &Pipe, dot: &Value, st: &State) -> Result<Value> {
    let mut piped = None;
    for cmd in &p.cmds {
        piped = Some(command(cmd, dot, st, piped)?);
    }
    Ok(piped.unwrap_or(Value::Null))
}

fn command(args: &[Arg], dot: &Value, st: &State, piped: Option<Value>) -> Result<Value> {
    let Some(first) = args.first() else {
        return Err(Error::Template("empty command".into()));
    };
    if let Arg::Ident(name) = first {
        if name == "json" && st.html_root && st.dot_is_root && matches!(args, [_, Arg::Dot]) {
            return Ok(Value::String(html_escape(&serde_json::to_string(dot)?)));
        }
        let mut vals = args[1..]
            .iter()
            .map(|a| operand(a, dot, st))
            .collect::<Result<Vec<_>>>()?;
        vals.extend(piped);
        return call(name, vals, st.header);
    }
    if args.len() > 1 || piped.is_some() {
        return Err(Error::Template(
            "can't give argument to non-function".into(),
        ));
    }
    operand(first, dot, st)
}

fn operand(a: &Arg, dot: &Value, st: &State) -> Result<Value> {
    Ok(match a {
        Arg::Dot => dot.clone(),
        Arg::Field(names) => field(dot, names)?,
        Arg::Var(name, names) => {
            let v = st
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| Error::Template(format!("undefined variable: ${name}")))?;
            field(v, names)?
        }
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Num(n) => n.clone(),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Nil => Value::Null,
        Arg::Ident(name) => call(name, Vec::new(), st.header)?,
        Arg::Sub(p) => pipe(p, dot, st)?,
    })
}

/// `.A.B` on a value; missing keys give Null (printed `<no value>`).
fn field(v: &Value, names: &[String]) -> Result<Value> {
    let mut cur = v;
    for name in names {
        cur = match cur {
            Value::Object(m) => match m.get(name) {
                Some(v) => v,
                None => return Ok(Value::Null),
            },
            Value::Null => return Ok(Value::Null),
            other => {
                return Err(Error::Template(format!(
                    "can't evaluate field {name} in type {}",
                    type_name(other)
                )))
            }
        };
    }
    Ok(cur.clone())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's truth: false, 0, nil and empty strings, slices and maps are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn print_top(v: &Value, header: bool) -> String {
    match v {
        Value::Null if header => String::new(),
        Value::Null => "<no value>".into(),
        _ => print(v),
    }
}

/// Go's `%v` of a JSON-decoded value.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", print(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn arg<'v>(args: &'v [Value], i: usize, f: &str) -> Result<&'v Value> {
    args.get(i)
        .ok_or_else(|| Error::Template(format!("wrong number of args for {f}")))
}

fn int_arg(args: &[Value], i: usize, f: &str) -> Result<usize> {
    let v = arg(args, i, f)?;
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::Template(format!("{f}: expected a count, got {}", print(v))))
}

fn call(name: &str, args: Vec<Value>, header: bool) -> Result<Value> {
    const PASS_IN_HEADER: &[&str] = &[
        "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
    ];
    if header && PASS_IN_HEADER.contains(&name) {
        return Ok(Value::String(print_top(arg(&args, 0, name)?, true)));
    }
    let s = |i: usize| -> Result<String> { Ok(print(arg(&args, i, name)?)) };
    Ok(match name {
        "json" => Value::String(serde_json::to_string(arg(&args, 0, name)?)?),
        "join" => {
            let sep = s(1)?;
            match arg(&args, 0, name)? {
                Value::Array(a) => {
                    Value::String(a.iter().map(print).collect::<Vec<_>>().join(&sep))
                }
                other => Value::String(print(other)),
            }
        }
        "split" => Value::Array(s(0)?.split(s(1)?.as_str()).map(Value::from).collect()),
        "lower" => Value::String(s(0)?.to_lowercase()),
        "upper" => Value::String(s(0)?.to_uppercase()),
        "title" => Value::String(title(&s(0)?)),
        "pad" => Value::String(format!(
            "{}{}{}",
            " ".repeat(int_arg(&args, 1, name)?),
            s(0)?,
            " ".repeat(int_arg(&args, 2, name)?)
        )),
        "truncate" => Value::String(s(0)?.chars().take(int_arg(&args, 1, name)?).collect()),
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(print).collect::<Vec<_>>().join(" ")
        )),
        "print" => Value::String(args.iter().map(print).collect::<Vec<_>>().join("")),
        "printf" => Value::String(printf(&s(0)?, &args[1..])),
        "index" => index(&args)?,
        "len" => Value::from(match arg(&args, 0, name)? {
            Value::String(s) => s.len(),
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            other => return Err(Error::Template(format!("len of type {}", type_name(other)))),
        }),
        "eq" => {
            let first = arg(&args, 0, name)?;
            Value::Bool(args[1..].iter().any(|b| same(first, b)))
        }
        "ne" => Value::Bool(!same(arg(&args, 0, name)?, arg(&args, 1, name)?)),
        "not" => Value::Bool(!truthy(arg(&args, 0, name)?)),
        "and" => args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        "or" => args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        _ => return Err(Error::Template(format!("function {name:?} not defined"))),
    })
}

/// Go's HTML-safe JSON: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes.
fn html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn index(args: &[Value]) -> Result<Value> {
    let mut cur = arg(args, 0, "index")?.clone();
    for key in &args[1..] {
        cur = match (&cur, key) {
            (Value::Object(m), k) => m.get(&print(k)).cloned().unwrap_or(Value::Null),
            (Value::Array(a), Value::Number(n)) => {
                let i = n
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|i| *i < a.len())
                    .ok_or_else(|| Error::Template(format!("index out of range: {n}")))?;
                a[i].clone()
            }
            (Value::Null, _) => Value::Null,
            (other, _) => {
                return Err(Error::Template(format!(
                    "can't index item of type {}",
                    type_name(other)
                )))
            }
        };
    }
    Ok(cur)
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

/// Go's `printf` for `%s %v %d %q %f %%`.
fn printf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb) => match (verb, args.next()) {
                ('q', Some(v)) => {
                    out.push_str(&serde_json::to_string(&print(v)).unwrap_or_default())
                }
                ('f', Some(v)) => out.push_str(&format!("{:.6}", v.as_f64().unwrap_or(0.0))),
                (_, Some(v)) => out.push_str(&print(v)),
                (v, None) => out.push_str(&format!("%!{v}(MISSING)")),
            },
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}
