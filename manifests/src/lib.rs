//! The minicloud resource model: typed kinds, strict YAML/JSON parsing, validation,
//! defaulting and JSON Schemas. No I/O, no async: every function takes data and returns data.
//!
//! The usual pipeline for user input is [`parse_documents`] → [`apply_defaults`] →
//! [`validate()`] (or [`parse_and_validate`], which also maps validation errors back to
//! YAML line/column). Objects travel between components as plain JSON ([`Resource::to_json`],
//! [`parse_json_object`]).

pub mod defaults;
pub mod hosts;
pub mod kind;
pub mod kinds;
pub mod meta;
pub mod parse;
mod place;
pub mod quantity;
pub mod resource;
pub mod schedule;
pub mod schema;
pub mod validate;
pub mod yaml;

pub use defaults::apply_defaults;
pub use kind::{Kind, Scope, UnknownKind};
pub use kinds::*;
pub use meta::{ApiVersion, BasicStatus, Condition, ConditionStatus, ObjectMeta, OwnerReference};
pub use parse::{
    DocumentRef, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, ParseError, Problem, parse_and_validate,
    parse_documents, parse_json_object,
};
pub use quantity::{Bytes, Cpu, QuantityError};
pub use resource::Resource;
pub use schedule::ScheduleError;
pub use validate::{FieldError, ValidationErrors, validate};
pub use yaml::to_yaml;
