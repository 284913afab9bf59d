//! Byte sizes (`256Mi`, `1Gi`, `1G`, `1000`), stored as exact bytes.

use std::fmt;
use std::str::FromStr;

use super::decimal::{ScaleError, scale_decimal};
use super::serde_impl::quantity_serde;
use super::{QuantityError, Result};

const WHAT: &str = "byte quantity";
const EXPECTED: &str = "a number of bytes with an optional suffix: Ki, Mi, Gi, Ti, Pi, Ei (powers \
                        of 1024) or k, M, G, T, P, E (powers of 1000), like \"256Mi\" or \"1G\"";

/// Suffixes from largest to smallest, binary first so printing prefers them on ties.
const BINARY: [(&str, u64); 6] = [
    ("Ei", 1 << 60),
    ("Pi", 1 << 50),
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
];
const DECIMAL: [(&str, u64); 6] = [
    ("E", 1_000_000_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("k", 1_000),
];

/// A size in bytes (memory, disk).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(u64);

impl Bytes {
    /// Zero bytes.
    pub const ZERO: Bytes = Bytes(0);

    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> Bytes {
        Bytes(bytes)
    }

    /// `n` mebibytes.
    pub const fn mebibytes(n: u64) -> Bytes {
        Bytes(n << 20)
    }

    /// `n` gibibytes.
    pub const fn gibibytes(n: u64) -> Bytes {
        Bytes(n << 30)
    }

    /// The size in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Sum of two sizes, or `None` on overflow.
    pub fn checked_add(self, other: Bytes) -> Option<Bytes> {
        self.0.checked_add(other.0).map(Bytes)
    }
}

fn split_suffix(input: &str) -> (&str, u64) {
    BINARY
        .iter()
        .chain(DECIMAL.iter())
        .find_map(|(suffix, scale)| input.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((input, 1))
}

impl FromStr for Bytes {
    type Err = QuantityError;

    fn from_str(input: &str) -> Result<Bytes> {
        if input.is_empty() {
            return Err(QuantityError::Empty {
                example: "\"256Mi\"",
            });
        }
        if input.starts_with('-') {
            return Err(QuantityError::Negative {
                input: input.into(),
            });
        }
        let (number, scale) = split_suffix(input);
        scale_decimal(number, scale)
            .map(Bytes)
            .map_err(|e| match e {
                ScaleError::Malformed => QuantityError::Malformed {
                    input: input.into(),
                    what: WHAT,
                    expected: EXPECTED,
                },
                ScaleError::NotExact => QuantityError::NotExact {
                    input: input.into(),
                    unit: "bytes",
                    unit_singular: "byte",
                },
                ScaleError::Overflow => QuantityError::Overflow {
                    input: input.into(),
                },
            })
    }
}

/// The largest suffix in `table` that divides `bytes` evenly.
fn largest_unit(bytes: u64, table: &[(&'static str, u64)]) -> Option<(u64, &'static str)> {
    table
        .iter()
        .find(|(_, scale)| bytes.is_multiple_of(*scale))
        .map(|(suffix, scale)| (bytes / scale, *suffix))
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0");
        }
        let binary = largest_unit(self.0, &BINARY);
        let decimal = largest_unit(self.0, &DECIMAL);
        let best = match (binary, decimal) {
            (Some(b), Some(d)) if d.0 < b.0 => Some(d),
            (Some(b), _) => Some(b),
            (None, d) => d,
        };
        match best {
            Some((count, suffix)) => write!(f, "{count}{suffix}"),
            None => write!(f, "{}", self.0),
        }
    }
}

quantity_serde!(
    Bytes,
    expecting: "a byte quantity: a number of bytes with an optional suffix Ki, Mi, Gi, Ti, Pi, Ei (1024) or k, M, G, T, P, E (1000)",
    pattern: "^[0-9]+(\\.[0-9]+)?([kMGTPE]|[KMGTPE]i)?$"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Bytes {
        text.parse().unwrap()
    }

    #[test]
    fn binary_suffixes_are_powers_of_1024() {
        assert_eq!(bytes("256Mi").get(), 256 << 20);
        assert_eq!(bytes("1Gi").get(), 1 << 30);
        assert_eq!(bytes("1.5Gi").get(), 3 << 29);
    }

    #[test]
    fn decimal_suffixes_are_powers_of_1000() {
        assert_eq!(bytes("1G").get(), 1_000_000_000);
        assert_eq!(bytes("2k").get(), 2000);
        assert_eq!(bytes("1000").get(), 1000);
    }

    #[test]
    fn sizes_print_with_the_shortest_exact_suffix() {
        assert_eq!(Bytes::new(1 << 30).to_string(), "1Gi");
        assert_eq!(Bytes::new(1_000_000_000).to_string(), "1G");
        assert_eq!(bytes("1.5Gi").to_string(), "1536Mi");
        assert_eq!(Bytes::new(1023).to_string(), "1023");
        assert_eq!(Bytes::ZERO.to_string(), "0");
    }

    #[test]
    fn printing_and_parsing_round_trips() {
        for n in [1, 1000, 1024, 1_024_000, 3 << 29, 999_999, u64::MAX] {
            let b = Bytes::new(n);
            assert_eq!(b.to_string().parse::<Bytes>(), Ok(b), "{b}");
        }
    }

    #[test]
    fn fractional_bytes_are_refused() {
        assert!(matches!(
            "0.1".parse::<Bytes>(),
            Err(QuantityError::NotExact { .. })
        ));
        assert!("1.0000001k".parse::<Bytes>().is_err());
    }

    #[test]
    fn negative_overflowing_and_unknown_sizes_are_refused() {
        assert!(matches!(
            "-1Gi".parse::<Bytes>(),
            Err(QuantityError::Negative { .. })
        ));
        assert!(matches!(
            "16Ei".parse::<Bytes>(),
            Err(QuantityError::Overflow { .. })
        ));
        let err = "1GB".parse::<Bytes>().unwrap_err().to_string();
        assert!(err.contains("Gi"), "{err}");
        assert!("1K".parse::<Bytes>().is_err());
    }

    #[test]
    fn sizes_deserialize_from_numbers_and_strings() {
        let parsed: Vec<Bytes> = serde_json::from_str(r#"["1Gi", 1000, 2e3]"#).unwrap();
        assert_eq!(
            parsed,
            [Bytes::gibibytes(1), Bytes::new(1000), Bytes::new(2000)]
        );
        assert!(serde_json::from_str::<Bytes>("0.5").is_err());
    }

    #[test]
    fn sizes_serialize_as_canonical_string() {
        assert_eq!(serde_json::to_string(&bytes("1024Mi")).unwrap(), r#""1Gi""#);
    }
}
