//! Sizes with k/m/g suffixes (docker's `RAMInBytes`), CPU counts as nano-CPUs, and Go
//! durations (`1m30s`, `500ms`) as nanoseconds.

use crate::error::{Error, Result};

/// Docker's `units.RAMInBytes`: "32m", "1.5g", "512", "2GiB" (1024-based, case-insensitive).
pub fn ram_in_bytes(s: &str) -> Result<i64> {
    let bad = || Error::usage(format!("invalid size: '{s}'"));
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start_matches(' ').to_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((value * mult) as i64)
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn swap_bytes(s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        Ok(-1)
    } else {
        ram_in_bytes(s)
    }
}

/// `--cpus 1.5` as NanoCpus (1500000000), exactly, from the decimal text.
pub fn nano_cpus(s: &str) -> Result<i64> {
    let bad = || Error::usage(format!("failed to parse {s} as a rational number"));
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_trim = frac.trim_end_matches('0');
    if frac_trim.len() > 9 {
        return Err(Error::usage("value is too precise"));
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_val: i64 = if frac_trim.is_empty() {
        0
    } else {
        format!("{frac_trim:0<9}").parse().map_err(|_| bad())?
    };
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_val))
        .ok_or_else(bad)
}

/// A Go duration (`time.ParseDuration`): `300ms`, `1.5s`, `1m30s`, `0`; nanoseconds.
pub fn go_duration(s: &str) -> Result<i64> {
    let bad = || Error::usage(format!("time: invalid duration \"{s}\""));
    let t = s.trim();
    let (neg, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(n);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, after) = tail.split_at(u);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = after;
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram() {
        assert_eq!(ram_in_bytes("32m").unwrap(), 33_554_432);
        assert_eq!(ram_in_bytes("32M").unwrap(), 33_554_432);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1_073_741_824);
        assert_eq!(ram_in_bytes("1.5GiB").unwrap(), 1_610_612_736);
        assert_eq!(ram_in_bytes("512").unwrap(), 512);
        assert_eq!(ram_in_bytes("4k").unwrap(), 4096);
        assert_eq!(ram_in_bytes("100 MB").unwrap(), 104_857_600);
        assert!(ram_in_bytes("lots").is_err());
        assert!(ram_in_bytes("3x").is_err());
        assert_eq!(swap_bytes("-1").unwrap(), -1);
    }

    #[test]
    fn cpus() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(nano_cpus("2").unwrap(), 2_000_000_000);
        assert_eq!(nano_cpus("0.001").unwrap(), 1_000_000);
        assert_eq!(nano_cpus(".5").unwrap(), 500_000_000);
        assert!(nano_cpus("0.0000000001").is_err());
        assert!(nano_cpus("abc").is_err());
        assert_eq!(go_duration("300ms").unwrap(), 300_000_000);
        assert_eq!(go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(go_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(go_duration("0").unwrap(), 0);
        assert!(go_duration("10").is_err());
        assert!(go_duration("5x").is_err());
    }
}
