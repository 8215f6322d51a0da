//! Detach keys on an attached stdin, as dockerd handles them: the sequence (`ctrl-p,ctrl-q`
//! unless the client names another with `detachKeys`) ends the attach and leaves the
//! container running; its bytes never reach the container, and a partial match that breaks
//! off is passed on unchanged.

/// docker's default sequence.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// Parses docker's `detachKeys` format: comma-separated keys, each one character or
/// `ctrl-<a-z @ [ \ ] ^ _>`.
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("Invalid detach keys ({spec}) provided");
    let mut out = Vec::new();
    for key in spec.split(',') {
        let b = key.as_bytes();
        match b {
            [c] => out.push(*c),
            [b'c', b't', b'r', b'l', b'-', c] => out.push(match c {
                b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            }),
            _ => return Err(bad()),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// Watches a byte stream for the sequence.
pub struct Escape {
    keys: Vec<u8>,
    /// How many bytes of the sequence the stream ended with so far (held back).
    matched: usize,
}

/// What to pass on for a chunk, and whether the sequence was completed.
pub struct Fed {
    pub pass: Vec<u8>,
    pub detach: bool,
}

impl Escape {
    pub fn new(keys: Vec<u8>) -> Self {
        Self { keys, matched: 0 }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Fed {
        let mut pass = Vec::with_capacity(chunk.len());
        for &b in chunk {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return Fed { pass, detach: true };
                }
                continue;
            }
            // Broken off: what was held back goes on, and this byte may start a new match.
            pass.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return Fed { pass, detach: true };
                }
            } else {
                pass.push(b);
            }
        }
        Fed {
            pass,
            detach: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_format() {
        assert_eq!(parse(DEFAULT).unwrap(), vec![16, 17]);
        assert_eq!(
            parse("ctrl-@,ctrl-[,a,ctrl-_").unwrap(),
            vec![0, 27, b'a', 31]
        );
        for bad in ["", "ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("Invalid detach keys"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_is_never_passed_on() {
        let mut e = Escape::new(vec![16, 17]);
        let f = e.feed(b"ab\x10");
        assert_eq!((f.pass.as_slice(), f.detach), (&b"ab"[..], false));
        let f = e.feed(b"\x11rest");
        assert_eq!((f.pass.as_slice(), f.detach), (&b""[..], true));
    }

    #[test]
    fn a_broken_off_match_is_passed_on_unchanged() {
        let mut e = Escape::new(vec![16, 17]);
        let f = e.feed(b"x\x10y\x10\x10");
        assert_eq!((f.pass.as_slice(), f.detach), (&b"x\x10y\x10"[..], false));
        let f = e.feed(b"\x11");
        assert!(f.detach);
        let mut one = Escape::new(vec![b'q']);
        let f = one.feed(b"abq");
        assert_eq!((f.pass.as_slice(), f.detach), (&b"ab"[..], true));
    }
}
