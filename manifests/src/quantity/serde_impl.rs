//! Serde and JSON Schema glue shared by the quantity types: they serialize as their canonical
//! string and deserialize from strings or plain numbers.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};

use super::QuantityError;

/// Accepts a string or a number and parses it through `T::from_str`.
pub(super) struct QuantityVisitor<T>(pub(super) PhantomData<T>, pub(super) &'static str);

impl<T> QuantityVisitor<T>
where
    T: FromStr<Err = QuantityError>,
{
    fn parse<E: de::Error>(&self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

impl<T> Visitor<'_> for QuantityVisitor<T>
where
    T: FromStr<Err = QuantityError>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.parse(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.parse(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.parse(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // Display for f64 prints the shortest exact decimal and never uses an exponent.
        self.parse(&v.to_string())
    }
}

/// Implements `Serialize`, `Deserialize` and `JsonSchema` for a quantity type.
macro_rules! quantity_serde {
    ($ty:ident, expecting: $expecting:literal, pattern: $pattern:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(super::serde_impl::QuantityVisitor(
                    std::marker::PhantomData,
                    $expecting,
                ))
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": $expecting,
                    "anyOf": [
                        { "type": "string", "pattern": $pattern },
                        { "type": "number", "minimum": 0 }
                    ]
                })
            }
        }
    };
}

pub(super) use quantity_serde;
