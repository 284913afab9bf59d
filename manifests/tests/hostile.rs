//! Hostile input is refused quickly, with a clear error, before anything large is built.
//! Each test prints how long the refusal took; the bound asserted is deliberately generous
//! (the measured figures are far below it).

use std::time::{Duration, Instant};

use minicloud_manifests::{MAX_DOCUMENT_BYTES, ParseError, parse_documents, parse_json_object};

const GENEROUS: Duration = Duration::from_secs(2);

/// Parses `input`, expecting a refusal; returns its message.
fn refuse(label: &str, input: &str) -> String {
    let start = Instant::now();
    let result = parse_documents(input);
    let elapsed = start.elapsed();
    eprintln!("{label}: {} bytes refused in {elapsed:?}", input.len());
    assert!(elapsed < GENEROUS, "{label} took {elapsed:?}");
    let message = result
        .expect_err("hostile input must be refused")
        .to_string();
    eprintln!("  -> {message}");
    message
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} does not mention {part:?}"
        );
    }
}

#[test]
fn billion_laughs_alias_bomb_is_refused() {
    let mut bomb = String::from(
        "kind: App\nmetadata: {name: lol}\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let prev = format!("*x{}", level - 1);
        let refs = [prev.as_str(); 9].join(", ");
        bomb.push_str(&format!("x{level}: &x{level} [{refs}]\n"));
    }
    bomb.push_str("spec: {image: *x9}\n");
    let message = refuse("alias bomb", &bomb);
    assert_mentions(
        &message,
        &["document 1 (App \"lol\")", "line 7", "aliases expand"],
    );
}

#[test]
fn ten_thousand_unclosed_flow_sequences_are_refused() {
    let input = format!("kind: App\nspec: {}", "[".repeat(10_000));
    assert_mentions(
        &refuse("10k-deep flow yaml", &input),
        &["document 1", "line 2"],
    );
}

#[test]
fn ten_thousand_nested_json_arrays_are_refused() {
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let input = format!(r#"{{"kind": "App", "metadata": {{"name": {nested}}}}}"#);
    assert_mentions(
        &refuse("10k-deep json object", &input),
        &["metadata.name", "line 1, column 37", "expected a string"],
    );
    assert_mentions(
        &refuse("10k-deep json array", &nested),
        &["document 1", "line 1"],
    );
}

#[test]
fn ten_thousand_nested_block_sequences_are_refused() {
    let input = format!("kind: App\nspec:\n{}x\n", "- ".repeat(10_000));
    assert_mentions(
        &refuse("10k-deep block yaml", &input),
        &["document 1", "line 3", "nesting is deeper than 50 levels"],
    );
}

#[test]
fn ten_thousand_nested_block_mappings_are_refused() {
    let mut input = String::from("kind: App\nspec:\n");
    // Indentation grows quadratically, so 2,000 levels already make a 4 MB document: the
    // nesting limit must trip long before the end.
    for depth in 1..2_000 {
        input.push_str(&" ".repeat(depth));
        input.push_str("a:\n");
    }
    assert_mentions(
        &refuse("deep block mappings", &input),
        &["nesting is deeper than"],
    );
}

#[test]
fn a_megabyte_of_nested_flow_mappings_is_refused() {
    let input = "{a: ".repeat(256 * 1024);
    assert_mentions(
        &refuse("1 MiB nested flow mappings", &input),
        &["document 1", "line 1"],
    );
}

#[test]
fn documents_over_the_size_limit_are_refused_before_parsing() {
    let input = format!(
        "kind: Secret\nmetadata: {{name: big}}\ndata: {{a: \"{}\"}}\n",
        "x".repeat(4 << 20)
    );
    let start = Instant::now();
    let err = parse_documents(&input).unwrap_err();
    eprintln!("4 MiB document: refused in {:?}", start.elapsed());
    assert!(
        matches!(
            err,
            ParseError::TooLarge {
                limit: MAX_DOCUMENT_BYTES,
                ..
            }
        ),
        "{err}"
    );
    assert_mentions(
        &err.to_string(),
        &["over the limit of 3145728 bytes", "split"],
    );
    assert!(matches!(
        parse_json_object(input.as_bytes()),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn a_key_repeated_100000_times_fails_at_the_second_occurrence() {
    let input = format!(
        "kind: App\nmetadata: {{name: dup}}\nspec:\n{}",
        "  image: x\n".repeat(100_000)
    );
    assert_mentions(
        &refuse("100k repeated keys", &input),
        &["duplicate", "image", "line 5, column 3"],
    );
}

#[test]
fn many_tiny_documents_are_refused() {
    let input = "kind: Tenant\nmetadata: {name: t}\nspec: {}\n---\n".repeat(2_000);
    let message = refuse("2000 documents", &input);
    assert_mentions(&message, &["more than 1000 documents"]);
}
