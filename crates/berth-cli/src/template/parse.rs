//! Building the node tree: text, actions, and `if`/`range`/`with` blocks with `else`/`end`.

use std::iter::Peekable;
use std::vec::IntoIter;

use super::lex::{pieces, Piece, Tok};
use crate::error::{Error, Result};

/// A template node.
#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
}

/// `[$a[, $b] :=|=] cmd | cmd ...`
#[derive(Debug)]
pub struct Pipe {
    pub decl: Vec<String>,
    /// `=` (assign to an existing variable) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
}

/// An operand of a command.
#[derive(Debug)]
pub enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(serde_json::Value),
    Bool(bool),
    Nil,
    Ident(String),
    Sub(Pipe),
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End,
    Else(Option<Vec<Tok>>),
}

/// Parses a whole template.
pub fn parse(src: &str) -> Result<Vec<Node>> {
    let mut it = pieces(src)?.into_iter().peekable();
    let (nodes, end) = list(&mut it)?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End => Err(Error::Template("unexpected {{end}}".into())),
        Stop::Else(_) => Err(Error::Template("unexpected {{else}}".into())),
    }
}

fn list(it: &mut Peekable<IntoIter<Piece>>) -> Result<(Vec<Node>, Stop)> {
    let mut nodes = Vec::new();
    while let Some(piece) = it.next() {
        let toks = match piece {
            Piece::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Piece::Action(toks) => toks,
        };
        let keyword = match toks.first() {
            Some(Tok::Ident(k)) => k.as_str(),
            _ => "",
        };
        match keyword {
            "end" => return Ok((nodes, Stop::End)),
            "else" => {
                let rest = toks[1..].to_vec();
                return Ok((nodes, Stop::Else((!rest.is_empty()).then_some(rest))));
            }
            "if" | "with" | "range" => {
                let kw = keyword.to_string();
                nodes.push(block(&kw, toks[1..].to_vec(), it)?);
            }
            _ => nodes.push(Node::Action(pipe(toks)?)),
        }
    }
    Ok((nodes, Stop::Eof))
}

/// Parses the body of `kw` (whose pipeline is `head`) up to its `{{end}}`.
fn block(kw: &str, head: Vec<Tok>, it: &mut Peekable<IntoIter<Piece>>) -> Result<Node> {
    let p = pipe(head)?;
    let (body, end) = list(it)?;
    let alt = match end {
        Stop::Eof => return Err(Error::Template(format!("unexpected EOF in {{{{{kw}}}}}"))),
        Stop::End => Vec::new(),
        Stop::Else(None) => {
            let (alt, end) = list(it)?;
            if !matches!(end, Stop::End) {
                return Err(Error::Template(format!(
                    "missing {{{{end}}}} for {{{{{kw}}}}}"
                )));
            }
            alt
        }
        // `{{else if ...}}` / `{{else with ...}}`: a nested block sharing our {{end}}.
        Stop::Else(Some(toks)) => match toks.first() {
            Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                let k = k.clone();
                vec![block(&k, toks[1..].to_vec(), it)?]
            }
            _ => return Err(Error::Template("bad {{else}} clause".into())),
        },
    };
    Ok(match kw {
        "if" => Node::If(p, body, alt),
        "with" => Node::With(p, body, alt),
        _ => Node::Range(p, body, alt),
    })
}

/// Parses a pipeline from tokens.
fn pipe(toks: Vec<Tok>) -> Result<Pipe> {
    if toks.is_empty() {
        return Err(Error::Template("missing value in action".into()));
    }
    let mut toks: Vec<Tok> = toks;
    let mut decl = Vec::new();
    let mut assign = false;
    if let Some(pos) = toks
        .iter()
        .position(|t| matches!(t, Tok::Declare | Tok::Assign))
    {
        let head: Vec<Tok> = toks.drain(..=pos).collect();
        assign = matches!(head.last(), Some(Tok::Assign));
        for t in &head[..head.len() - 1] {
            match t {
                Tok::Var(name, fields) if fields.is_empty() => decl.push(name.clone()),
                Tok::Comma => {}
                _ => return Err(Error::Template("bad variable declaration".into())),
            }
        }
    }
    let mut it = toks.into_iter().peekable();
    let p = pipe_of(&mut it, decl, assign)?;
    if it.next().is_some() {
        return Err(Error::Template("unexpected ) in action".into()));
    }
    Ok(p)
}

fn pipe_of(it: &mut Peekable<IntoIter<Tok>>, decl: Vec<String>, assign: bool) -> Result<Pipe> {
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while let Some(t) = it.peek() {
        if matches!(t, Tok::RParen) {
            break;
        }
        let Some(t) = it.next() else { break };
        let arg = match t {
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err(Error::Template("missing command before |".into()));
                }
                cmds.push(std::mem::take(&mut cmd));
                continue;
            }
            Tok::Dot => Arg::Dot,
            Tok::Field(f) => Arg::Field(f),
            Tok::Var(n, f) => Arg::Var(n, f),
            Tok::Str(s) => Arg::Str(s),
            Tok::Num(n) => Arg::Num(number(&n)?),
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => Arg::Ident(id),
            },
            Tok::LParen => {
                let sub = pipe_of(it, Vec::new(), false)?;
                if it.next() != Some(Tok::RParen) {
                    return Err(Error::Template("unclosed left paren".into()));
                }
                Arg::Sub(sub)
            }
            other => return Err(Error::Template(format!("unexpected {other:?} in command"))),
        };
        cmd.push(arg);
    }
    if cmd.is_empty() {
        return Err(Error::Template("missing value for command".into()));
    }
    cmds.push(cmd);
    Ok(Pipe { decl, assign, cmds })
}

fn number(s: &str) -> Result<serde_json::Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(i.into());
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(serde_json::Value::Number)
        .ok_or_else(|| Error::Template(format!("bad number syntax: {s:?}")))
}
