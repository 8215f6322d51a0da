//! Docker's human-readable sizes ("4.26MB", "1.5GiB") and durations ("Up 3 seconds",
//! "About a minute ago"), with Go's `%g` formatting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Go's `strconv.FormatFloat(x, 'g', prec, 64)`.
pub fn go_g(x: f64, prec: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, x);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn custom_size(size: f64, prec: usize, base: f64, units: &[&str]) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, prec), units[i])
}

/// `units.HumanSizeWithPrecision`: 1000-based, `prec` significant digits ("4.26MB").
pub fn size_prec(bytes: f64, prec: usize) -> String {
    custom_size(bytes, prec, 1000.0, &DECIMAL)
}

/// `units.HumanSize`: 4 significant digits.
pub fn size(bytes: f64) -> String {
    size_prec(bytes, 4)
}

/// `units.BytesSize`: 1024-based ("1.5GiB").
pub fn bytes_size(bytes: f64) -> String {
    custom_size(bytes, 4, 1024.0, &BINARY)
}

/// `units.HumanDuration`: "Less than a second", "3 seconds", "About a minute", "2 hours"...
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    // Go rounds to the nearest hour here.
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// "3 minutes ago" for `unix` seen at `now`.
pub fn ago_from(unix: i64, now: i64) -> String {
    let secs = u64::try_from(now - unix).unwrap_or(0);
    format!("{} ago", duration(Duration::from_secs(secs)))
}

/// Parses an RFC 3339 time ("2024-01-02T03:04:05.123456789Z") to unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z').get(..19)?).ok()?;
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    // A numeric offset ("+02:00") shifts the wall-clock time back to UTC.
    let tail = &s[19..];
    let offset = tail
        .rfind(['+', '-'])
        .and_then(|i| {
            let (sign, hm) = tail[i..].split_at(1);
            let (h, m) = hm.split_once(':')?;
            let off = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            Some(if sign == "-" { -off } else { off })
        })
        .unwrap_or(0);
    Some(secs - offset)
}

/// A unix time in docker's "2006-01-02 15:04:05 +0000 UTC" form.
pub fn go_time(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} {} +0000 UTC", &s[..10], &s[11..19])
}

/// A unix time in Go's `time.ANSIC` form ("Mon Jan  2 15:04:05 2006"), UTC.
pub fn ansic(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86400);
    let secs = unix.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {year}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses docker's `--since`/`--until`: a unix time, an RFC 3339 time, or a duration ("10m")
/// before now; the value the API expects (unix seconds as a string).
pub fn parse_time_arg(s: &str) -> Option<String> {
    if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Some(s.to_string());
    }
    if let Some(t) = parse_rfc3339(s) {
        return Some(t.to_string());
    }
    if let Some(t) = s
        .get(..10)
        .filter(|d| d.len() == 10 && s.len() == 10)
        .and_then(|d| parse_rfc3339(&format!("{d}T00:00:00Z")))
    {
        return Some(t.to_string());
    }
    let d = humantime::parse_duration(s).ok()?;
    Some((now_unix() - d.as_secs() as i64).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_matches_go() {
        assert_eq!(go_g(4.26123, 3), "4.26");
        assert_eq!(go_g(4.0, 3), "4");
        assert_eq!(go_g(12.0, 3), "12");
        assert_eq!(go_g(123.456, 3), "123");
        assert_eq!(go_g(999.999, 3), "1e+03");
        assert_eq!(go_g(0.5, 3), "0.5");
        assert_eq!(go_g(1.5, 4), "1.5");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn sizes() {
        assert_eq!(size_prec(4_261_000.0, 3), "4.26MB");
        assert_eq!(size_prec(0.0, 3), "0B");
        assert_eq!(size_prec(100.0, 3), "100B");
        assert_eq!(size_prec(1000.0, 3), "1kB");
        assert_eq!(size_prec(1_234_567_890.0, 3), "1.23GB");
        assert_eq!(size(2_097_152.0), "2.097MB");
        assert_eq!(bytes_size(1_610_612_736.0), "1.5GiB");
        assert_eq!(bytes_size(512.0), "512B");
    }

    #[test]
    fn durations() {
        let d = |s| duration(Duration::from_secs(s));
        assert_eq!(duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(d(1), "1 second");
        assert_eq!(d(3), "3 seconds");
        assert_eq!(d(61), "About a minute");
        assert_eq!(d(150), "2 minutes");
        assert_eq!(d(3600), "About an hour");
        assert_eq!(d(5 * 3600), "5 hours");
        assert_eq!(d(3 * 86400), "3 days");
        assert_eq!(d(20 * 86400), "2 weeks");
        assert_eq!(d(90 * 86400), "3 months");
        assert_eq!(d(800 * 86400), "2 years");
        assert_eq!(ago_from(100, 220), "2 minutes ago");
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00.123456789Z"), Some(60));
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(go_time(86400), "1970-01-02 00:00:00 +0000 UTC");
        assert_eq!(ansic(1_704_067_200), "Mon Jan  1 00:00:00 2024");
        assert_eq!(ansic(1_748_606_834), "Fri May 30 12:07:14 2025");
        assert_eq!(parse_time_arg("1700000000").as_deref(), Some("1700000000"));
    }
}
