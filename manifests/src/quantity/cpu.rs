//! CPU quantities in exact millicores (`500m`, `0.5`, `2`).

use std::fmt;
use std::str::FromStr;

use super::decimal::{ScaleError, scale_decimal};
use super::serde_impl::quantity_serde;
use super::{QuantityError, Result};

const WHAT: &str = "CPU quantity";
const EXPECTED: &str = "cores like \"2\" or \"0.5\", or millicores like \"500m\"";

/// An amount of CPU, stored as whole millicores (1 core = 1000m).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(u64);

impl Cpu {
    /// Zero CPU.
    pub const ZERO: Cpu = Cpu(0);

    /// A quantity of `millis` millicores.
    pub const fn from_millis(millis: u64) -> Cpu {
        Cpu(millis)
    }

    /// The quantity in millicores.
    pub const fn millis(self) -> u64 {
        self.0
    }

    /// Sum of two quantities, or `None` on overflow.
    pub fn checked_add(self, other: Cpu) -> Option<Cpu> {
        self.0.checked_add(other.0).map(Cpu)
    }
}

impl FromStr for Cpu {
    type Err = QuantityError;

    fn from_str(input: &str) -> Result<Cpu> {
        if input.is_empty() {
            return Err(QuantityError::Empty {
                example: "\"500m\"",
            });
        }
        if input.starts_with('-') {
            return Err(QuantityError::Negative {
                input: input.into(),
            });
        }
        let (number, scale) = match input.strip_suffix('m') {
            Some(millis) => (millis, 1),
            None => (input, 1000),
        };
        scale_decimal(number, scale).map(Cpu).map_err(|e| match e {
            ScaleError::Malformed => QuantityError::Malformed {
                input: input.into(),
                what: WHAT,
                expected: EXPECTED,
            },
            ScaleError::NotExact => QuantityError::NotExact {
                input: input.into(),
                unit: "millicores",
                unit_singular: "millicore",
            },
            ScaleError::Overflow => QuantityError::Overflow {
                input: input.into(),
            },
        })
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

quantity_serde!(
    Cpu,
    expecting: "a CPU quantity: cores (\"2\", \"0.5\", 1.5) or millicores (\"500m\")",
    pattern: "^([0-9]+m|[0-9]+(\\.[0-9]+)?)$"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(text: &str) -> Cpu {
        text.parse().unwrap()
    }

    #[test]
    fn quantity_500m_is_half_a_core() {
        assert_eq!(cpu("500m"), cpu("0.5"));
        assert_eq!(cpu("500m").millis(), 500);
    }

    #[test]
    fn fractional_cores_become_millicores() {
        assert_eq!(cpu("1.25").millis(), 1250);
        assert_eq!(cpu("2").millis(), 2000);
    }

    #[test]
    fn whole_cores_print_without_unit() {
        assert_eq!(cpu("2000m").to_string(), "2");
        assert_eq!(cpu("500m").to_string(), "500m");
        assert_eq!(cpu("1.25").to_string(), "1250m");
    }

    #[test]
    fn printing_and_parsing_round_trips() {
        for text in ["0", "1", "250m", "1500m", "64"] {
            assert_eq!(cpu(text).to_string().parse::<Cpu>(), Ok(cpu(text)));
        }
    }

    #[test]
    fn sub_millicore_precision_is_refused() {
        let err = "0.0005".parse::<Cpu>().unwrap_err();
        assert!(matches!(err, QuantityError::NotExact { .. }), "{err}");
        assert!("1.5m".parse::<Cpu>().is_err());
    }

    #[test]
    fn negative_and_malformed_cpu_is_refused() {
        assert!(matches!(
            "-1".parse::<Cpu>(),
            Err(QuantityError::Negative { .. })
        ));
        let err = "two".parse::<Cpu>().unwrap_err().to_string();
        assert!(err.contains("500m"), "{err}");
        assert!("".parse::<Cpu>().is_err());
    }

    #[test]
    fn overflowing_cpu_is_refused() {
        let err = "99999999999999999999".parse::<Cpu>().unwrap_err();
        assert!(matches!(err, QuantityError::Overflow { .. }));
    }

    #[test]
    fn cpu_deserializes_from_numbers_and_strings() {
        let parsed: Vec<Cpu> = serde_json::from_str(r#"["250m", 2, 0.5]"#).unwrap();
        assert_eq!(parsed, [cpu("250m"), cpu("2"), cpu("500m")]);
        assert!(serde_json::from_str::<Cpu>("-1").is_err());
    }

    #[test]
    fn cpu_serializes_as_canonical_string() {
        assert_eq!(serde_json::to_string(&cpu("1000m")).unwrap(), r#""1""#);
    }
}
