//! The `--grep` expression of a log read, compiled the same way wherever it is checked: by
//! the API server before it asks the nodes, and by each node's agent that searches its lines.
//! Rust regex syntax, whose matching takes linear time, with a bound on the compiled size.

use regex::{Regex, RegexBuilder};

/// The most memory a compiled expression may take.
const MAX_COMPILED_BYTES: usize = 1 << 20;

/// A `--grep` expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grep: {0}; the expression uses Rust regex syntax (https://docs.rs/regex)")]
pub struct BadExpression(String);

/// Compiles a `--grep` expression.
pub fn compile(expression: &str) -> Result<Regex, BadExpression> {
    RegexBuilder::new(expression)
        .size_limit(MAX_COMPILED_BYTES)
        .build()
        .map_err(|e| BadExpression(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_expression_says_what_and_where() {
        let error = compile("(unclosed").unwrap_err().to_string();
        assert!(error.starts_with("grep: "), "{error}");
        assert!(error.contains("unclosed group"), "{error}");
        assert!(compile("err(or)?").unwrap().is_match("an error"));
    }

    #[test]
    fn an_expression_too_big_to_compile_is_refused() {
        let error = compile("\\w{1000}{1000}").unwrap_err().to_string();
        assert!(error.contains("size limit"), "{error}");
    }
}
