//! Parsing of human-written quantities: durations (`300ms`, `1.5s`), byte
//! sizes (`16KiB`, `10MB`) and rates (`1.6mbit`), shared by the command
//! line and `site.toml`.

use std::time::Duration;

/// A quantity that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a number followed by a known unit.
    #[error("cannot parse {input:?} as a {kind} (examples: {examples})")]
    Invalid {
        /// The text given.
        input: String,
        /// What was expected.
        kind: &'static str,
        /// Valid examples.
        examples: &'static str,
    },
    /// Parsed, but out of the accepted range.
    #[error("{input:?} is out of range for a {kind}")]
    OutOfRange {
        /// The text given.
        input: String,
        /// What was expected.
        kind: &'static str,
    },
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n: f64 = s[..end].parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some((n, s[end..].trim()))
}

/// Parses a duration: `250ms`, `1.5s`, `40us`, `2m`; a bare number is milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::Invalid {
        input: s.to_string(),
        kind: "duration",
        examples: "300ms, 1.5s, 40us, 2m",
    };
    let (n, unit) = split_number(s).ok_or_else(bad)?;
    let secs = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs > 86_400.0 * 365.0 {
        return Err(UnitError::OutOfRange {
            input: s.to_string(),
            kind: "duration",
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a byte size: `1200`, `16KiB`, `16KB`, `10MB`, `1GiB`, `100pkt` is not a size.
pub fn parse_bytes(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Invalid {
        input: s.to_string(),
        kind: "byte size",
        examples: "1200, 16KiB, 64kb, 10MB, 1GiB",
    };
    let (n, unit) = split_number(s).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let v = n * mult;
    if v > 1e15 {
        return Err(UnitError::OutOfRange {
            input: s.to_string(),
            kind: "byte size",
        });
    }
    Ok(v.round() as u64)
}

/// Parses a rate in bits per second: `10mbit`, `1.6mbit`, `500kbit`, `1gbit`, `2000000`.
pub fn parse_rate(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Invalid {
        input: s.to_string(),
        kind: "rate",
        examples: "10mbit, 1.6mbit, 500kbit, 1gbit",
    };
    let (n, unit) = split_number(s).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "bit" | "bps" => 1.0,
        "kbit" | "kbps" => 1e3,
        "mbit" | "mbps" => 1e6,
        "gbit" | "gbps" => 1e9,
        _ => return Err(bad()),
    };
    let v = n * mult;
    if !(1.0..=1e12).contains(&v) {
        return Err(UnitError::OutOfRange {
            input: s.to_string(),
            kind: "rate",
        });
    }
    Ok(v.round() as u64)
}

/// Formats a byte count compactly in SI units, 1 kB being 1,000 bytes
/// (`950 B`, `14.0 kB`, `1.50 MB`, `2.00 GB`).
pub fn fmt_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// Human-readable size in powers of 1024, one decimal: "512 B",
/// "14.0 KiB", "3.0 MiB" (for plot labels of sizes that are binary).
pub fn fmt_bytes_binary(b: u64) -> String {
    let v = b as f64;
    if b < 1024 {
        format!("{b} B")
    } else if b < 1024 * 1024 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{:.1} MiB", v / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_say_kib_and_mib() {
        assert_eq!(fmt_bytes_binary(512), "512 B");
        assert_eq!(fmt_bytes_binary(14 * 1024), "14.0 KiB");
        assert_eq!(fmt_bytes_binary(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("40us").unwrap(), Duration::from_micros(40));
        assert_eq!(parse_duration("25").unwrap(), Duration::from_millis(25));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "ms", "-1ms", "1 parsec", "1e3ms", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("16KiB").unwrap(), 16384);
        assert_eq!(parse_bytes("64kb").unwrap(), 64000);
        assert_eq!(parse_bytes("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_bytes("1200").unwrap(), 1200);
        assert!(parse_bytes("12 furlongs").is_err());
        assert!(parse_bytes("1e20").is_err());
    }

    #[test]
    fn byte_counts_in_si_units() {
        assert_eq!(fmt_bytes(950), "950 B");
        assert_eq!(fmt_bytes(14_000), "14.0 kB");
        assert_eq!(fmt_bytes(1_500_000), "1.50 MB");
        assert_eq!(fmt_bytes(2_000_000_000), "2.00 GB");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1.6mbit").unwrap(), 1_600_000);
        assert_eq!(parse_rate("10Mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("500kbit").unwrap(), 500_000);
        assert!(parse_rate("0mbit").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
