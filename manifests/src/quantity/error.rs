//! The error of quantity parsing, and its result type.

use thiserror::Error;

/// Why a quantity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuantityError {
    /// The value was an empty string.
    #[error("empty quantity; write a number such as {example}")]
    Empty {
        /// An example of a valid quantity of this type.
        example: &'static str,
    },
    /// The value was negative.
    #[error("{input:?} is negative; quantities must be zero or more")]
    Negative {
        /// The rejected input.
        input: String,
    },
    /// The value did not have the expected shape.
    #[error("{input:?} is not a valid {what}; expected {expected}")]
    Malformed {
        /// The rejected input.
        input: String,
        /// What kind of quantity was being parsed.
        what: &'static str,
        /// A description of the accepted forms.
        expected: &'static str,
    },
    /// The value has more precision than the unit can represent.
    #[error("{input:?} is not a whole number of {unit}; round it to a whole {unit_singular}")]
    NotExact {
        /// The rejected input.
        input: String,
        /// The smallest unit, plural (`millicores`, `bytes`).
        unit: &'static str,
        /// The smallest unit, singular.
        unit_singular: &'static str,
    },
    /// The value is too large to represent.
    #[error("{input:?} is too large")]
    Overflow {
        /// The rejected input.
        input: String,
    },
}

/// Result type of quantity parsing.
pub type Result<T, E = QuantityError> = std::result::Result<T, E>;
