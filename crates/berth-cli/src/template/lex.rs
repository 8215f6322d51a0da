//! Splitting a template into text and actions, and an action into tokens.

use crate::error::{Error, Result};

/// A piece of the template source.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Text(String),
    /// The tokens between `{{` and `}}`.
    Action(Vec<Tok>),
}

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Dot,
    /// `.A.B`
    Field(Vec<String>),
    /// `$name.A.B` (`$` alone has an empty name)
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Ident(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// Splits the source into text and tokenized actions, applying `{{-` and `-}}` trimming.
pub fn pieces(src: &str) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner_start = start + 2;
        if rest[inner_start..].starts_with("- ") || rest[inner_start..].starts_with("-\t") {
            text = text.trim_end();
            inner_start += 1;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        let end = find_close(&rest[inner_start..])
            .ok_or_else(|| Error::Template("unclosed action".into()))?
            + inner_start;
        let mut inner = &rest[inner_start..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            out.push(Piece::Action(tokens(inner)?));
        }
        rest = &rest[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        out.push(Piece::Text(text.to_string()));
    }
    Ok(out)
}

/// The offset of the `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads `.A.B...` starting at a `.`; returns the names and the index after them.
fn field_chain(chars: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    while i < chars.len() && chars[i] == '.' {
        let start = i + 1;
        let mut j = start;
        while j < chars.len() && is_ident(chars[j]) {
            j += 1;
        }
        if j == start {
            break;
        }
        names.push(chars[start..j].iter().collect());
        i = j;
    }
    (names, i)
}

/// Tokenizes the inside of an action.
pub fn tokens(s: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1;
            }
            '.' => {
                let (names, j) = field_chain(&chars, i);
                if names.is_empty() {
                    out.push(Tok::Dot);
                    i += 1;
                } else {
                    out.push(Tok::Field(names));
                    i = j;
                }
            }
            '$' => {
                let mut j = i + 1;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                let (names, k) = field_chain(&chars, j);
                out.push(Tok::Var(name, names));
                i = k;
            }
            '"' => {
                let (text, j) = quoted(&chars, i)?;
                out.push(Tok::Str(text));
                i = j;
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| Error::Template("unterminated raw string".into()))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            c if c.is_ascii_digit() || (c == '-' || c == '+') && next_is_digit(&chars, i) => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
                    j += 1;
                }
                out.push(Tok::Num(chars[i..j].iter().collect()));
                i = j;
            }
            c if is_ident(c) => {
                let mut j = i;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                out.push(Tok::Ident(chars[i..j].iter().collect()));
                i = j;
            }
            other => {
                return Err(Error::Template(format!(
                    "unexpected {other:?} in action {s:?}"
                )))
            }
        }
    }
    Ok(out)
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

/// A Go double-quoted string starting at `i`; the text and the index after the closing quote.
fn quoted(chars: &[char], i: usize) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '"' => return Ok((out, j + 1)),
            '\\' => {
                j += 1;
                match chars.get(j) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('\\') => out.push('\\'),
                    Some('"') => out.push('"'),
                    Some(c) => {
                        out.push('\\');
                        out.push(*c);
                    }
                    None => break,
                }
            }
            c => out.push(c),
        }
        j += 1;
    }
    Err(Error::Template("unterminated quoted string".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes() {
        assert_eq!(
            tokens(r#"index .Config.Labels "a b" | json"#).unwrap(),
            vec![
                Tok::Ident("index".into()),
                Tok::Field(vec!["Config".into(), "Labels".into()]),
                Tok::Str("a b".into()),
                Tok::Pipe,
                Tok::Ident("json".into()),
            ]
        );
        assert_eq!(
            tokens("$k, $v := $.A -1").unwrap(),
            vec![
                Tok::Var("k".into(), vec![]),
                Tok::Comma,
                Tok::Var("v".into(), vec![]),
                Tok::Declare,
                Tok::Var("".into(), vec!["A".into()]),
                Tok::Num("-1".into()),
            ]
        );
    }

    #[test]
    fn splits_pieces() {
        let p = pieces("a {{.X}} b {{/* note */}}c").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0], Piece::Text("a ".into()));
        assert_eq!(p[3], Piece::Text("c".into()));
        assert!(pieces("{{\"}}\"}}").is_ok());
    }
}
