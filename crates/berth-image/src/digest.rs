//! Content digests (sha256 only) and a [`Verifier`] that hashes a stream as it passes.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The only algorithm accepted.
    pub const ALGORITHM: &'static str = "sha256";

    /// Parses `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidDigest {
            input: s.to_string(),
            reason,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| bad("missing ':'"))?;
        if alg != Self::ALGORITHM {
            return Err(bad("unsupported algorithm (only sha256)"));
        }
        Self::from_hex(hex).map_err(|_| bad("expected 64 lowercase hex digits"))
    }

    /// Builds a digest from its 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Self> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(Error::InvalidDigest {
                input: hex.to_string(),
                reason: "expected 64 lowercase hex digits",
            });
        }
        Ok(Self {
            hex: hex.to_string(),
        })
    }

    /// The digest of a byte slice.
    pub fn of_bytes(data: &[u8]) -> Self {
        Self::from_sha(Sha256::digest(data).into())
    }

    pub(crate) fn from_sha(bytes: [u8; 32]) -> Self {
        Self {
            hex: hex::encode(bytes),
        }
    }

    /// The hex part, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Always `"sha256"`.
    pub fn algorithm(&self) -> &'static str {
        Self::ALGORITHM
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(sha256:{})", self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Hashes everything read from or written to the wrapped stream, then checks the
/// digest and size in [`Verifier::finish`]. With an expected size, reading or writing
/// past it fails at once (an oversized stream is never consumed to its end).
pub struct Verifier<T> {
    inner: T,
    hasher: Sha256,
    size: u64,
    expected: Option<(Digest, u64)>,
}

impl<T> Verifier<T> {
    /// Hashes without an expectation; `finish` returns what was seen.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
            expected: None,
        }
    }

    /// Hashes and checks against `digest` and `size` at the end.
    pub fn expecting(inner: T, digest: Digest, size: u64) -> Self {
        Self {
            expected: Some((digest, size)),
            ..Self::new(inner)
        }
    }

    /// Bytes that passed so far.
    pub fn bytes(&self) -> u64 {
        self.size
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably (bytes moved through it directly are not hashed).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The digest and size of what passed, checked against the expectation if any,
    /// and the wrapped stream.
    pub fn finish(self) -> Result<(Digest, u64, T)> {
        let actual = Digest::from_sha(self.hasher.finalize().into());
        if let Some((digest, size)) = self.expected {
            if size != self.size {
                return Err(Error::SizeMismatch {
                    expected: size,
                    actual: self.size,
                });
            }
            if digest != actual {
                return Err(Error::DigestMismatch {
                    expected: digest.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok((actual, self.size, self.inner))
    }

    fn account(&mut self, data: &[u8]) -> io::Result<()> {
        self.hasher.update(data);
        self.size += data.len() as u64;
        match &self.expected {
            Some((_, limit)) if self.size > *limit => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("stream is longer than the expected {limit} bytes"),
            )),
            _ => Ok(()),
        }
    }
}

impl<R: Read> Read for Verifier<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.account(&buf[..n])?;
        Ok(n)
    }
}

impl<W: Write> Write for Verifier<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.account(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse_and_display() {
        let d = Digest::parse(&format!("sha256:{EMPTY}")).unwrap();
        assert_eq!(d.hex(), EMPTY);
        assert_eq!(d.to_string(), format!("sha256:{EMPTY}"));
        assert_eq!(d, Digest::of_bytes(b""));
        for bad in [
            "sha256:abc",
            "sha512:00",
            EMPTY,
            &format!("sha256:{}", EMPTY.to_uppercase()),
            &format!("sha256:{}", &EMPTY[..63]),
            &format!("sha256:{EMPTY}0"),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn verifier_read_checks_digest_and_size() {
        let data = b"hello world";
        let d = Digest::of_bytes(data);
        let mut v = Verifier::expecting(&data[..], d.clone(), data.len() as u64);
        io::copy(&mut v, &mut io::sink()).unwrap();
        assert_eq!(v.finish().unwrap().0, d);

        let mut v = Verifier::expecting(&data[..], Digest::of_bytes(b"x"), data.len() as u64);
        io::copy(&mut v, &mut io::sink()).unwrap();
        assert!(matches!(v.finish(), Err(Error::DigestMismatch { .. })));

        let mut v = Verifier::expecting(&data[..], d, 5);
        assert!(io::copy(&mut v, &mut io::sink()).is_err());
    }

    #[test]
    fn verifier_write_hashes() {
        let mut v = Verifier::new(Vec::new());
        v.write_all(b"abc").unwrap();
        let (d, n, out) = v.finish().unwrap();
        assert_eq!((n, out.as_slice()), (3, &b"abc"[..]));
        assert_eq!(d, Digest::of_bytes(b"abc"));
    }
}
