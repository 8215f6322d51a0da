//! Image references as docker normalizes them: `busybox` is `docker.io/library/busybox:latest`,
//! printed back in the familiar short form.

use crate::error::{Error, Result};

/// The registry docker assumes when a name has none.
pub const DEFAULT_DOMAIN: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub domain: String,
    /// Repository path inside the registry ("library/busybox").
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Parses and normalizes a reference ("busybox", "myreg:5000/a/b:v1", "x@sha256:...").
pub fn parse(s: &str) -> Result<Reference> {
    let invalid = || Error::usage("invalid reference format");
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
        _ => (rest, None),
    };
    if let Some(t) = &tag {
        if !valid_tag(t) {
            return Err(invalid());
        }
    }
    if let Some(d) = &digest {
        if !d.contains(':') {
            return Err(invalid());
        }
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), remainder.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    if path.to_lowercase() != path {
        return Err(Error::usage(format!(
            "invalid reference format: repository name ({path}) must be lowercase"
        )));
    }
    if !valid_path(&path) {
        return Err(invalid());
    }
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

impl Reference {
    /// "docker.io/library/busybox"
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// "busybox", "myreg:5000/a/b"
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// Adds the `latest` tag when there is neither tag nor digest.
    pub fn tag_name_only(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".into());
        }
        self
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// "busybox:latest"
    pub fn familiar_string(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    /// "docker.io/library/busybox:latest"
    pub fn full_string(&self) -> String {
        format!("{}{}", self.name(), self.suffix())
    }

    /// The `tag` query value for `/images/create`: the digest, else the tag.
    pub fn tag_or_digest(&self) -> Option<String> {
        self.digest.clone().or_else(|| self.tag.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let r = parse("busybox").unwrap();
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(
            r.clone().tag_name_only().familiar_string(),
            "busybox:latest"
        );
        let r = parse("myreg:5000/a/b:v1").unwrap();
        assert_eq!(r.domain, "myreg:5000");
        assert_eq!(r.familiar_string(), "myreg:5000/a/b:v1");
        let r = parse("user/app@sha256:abc").unwrap();
        assert_eq!(r.name(), "docker.io/user/app");
        assert_eq!(r.tag_or_digest().as_deref(), Some("sha256:abc"));
        assert_eq!(parse("localhost/x").unwrap().domain, "localhost");
    }

    #[test]
    fn rejects() {
        assert!(parse("Busybox").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("x:").is_err());
        assert!(parse("").is_err());
    }
}
