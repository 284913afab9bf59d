//! Splits a YAML stream into its documents without parsing it. A line starting with `---` or
//! `...` followed by whitespace is always a document marker in YAML 1.2 (such lines are
//! forbidden inside scalars), so cutting there is exact, and each document can then be parsed
//! on its own with errors attributed to it.

/// One document's text and where it starts in the whole input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DocText<'a> {
    /// The document's text, starting at the beginning of a line.
    pub text: &'a str,
    /// The 1-based line number of `text`'s first line in the input.
    pub first_line: u64,
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !(trimmed.is_empty() || trimmed.starts_with('#') || line.starts_with('%'))
}

/// Cuts `input` before every `---` that follows content and after every `...`.
pub(super) fn split_documents(input: &str) -> Vec<DocText<'_>> {
    let mut starts = vec![(0, 1)];
    let mut has_content = false;
    let mut offset = 0;
    for (index, line) in input.split_inclusive('\n').enumerate() {
        let line_number = index as u64 + 1;
        let body = line.trim_end_matches('\n');
        if is_marker(body, "---") {
            if has_content {
                starts.push((offset, line_number));
            }
            has_content = true;
        } else if is_marker(body, "...") {
            starts.push((offset + line.len(), line_number + 1));
            has_content = false;
        } else if is_content(body) {
            has_content = true;
        }
        offset += line.len();
    }
    starts.push((input.len(), 0));
    starts
        .windows(2)
        .map(|pair| DocText {
            text: &input[pair[0].0..pair[1].0],
            first_line: pair[0].1,
        })
        .filter(|doc| doc.text.lines().any(is_content) || doc.text.contains("---"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<(&str, u64)> {
        split_documents(input)
            .into_iter()
            .map(|d| (d.text, d.first_line))
            .collect()
    }

    #[test]
    fn documents_are_cut_at_separator_lines() {
        let input = "a: 1\n---\nb: 2\n--- {c: 3}\n";
        assert_eq!(
            texts(input),
            [("a: 1\n", 1), ("---\nb: 2\n", 2), ("--- {c: 3}\n", 4)]
        );
    }

    #[test]
    fn a_leading_separator_does_not_make_an_empty_document() {
        assert_eq!(texts("# top\n---\na: 1\n"), [("# top\n---\na: 1\n", 1)]);
    }

    #[test]
    fn document_end_markers_close_a_document() {
        assert_eq!(
            texts("a: 1\n...\nb: 2\n"),
            [("a: 1\n...\n", 1), ("b: 2\n", 3)]
        );
    }

    #[test]
    fn indented_or_glued_dashes_are_not_separators() {
        assert_eq!(
            texts("a: |\n  ---\nb: ---x\n"),
            [("a: |\n  ---\nb: ---x\n", 1)]
        );
    }

    #[test]
    fn comment_only_tails_are_dropped() {
        assert_eq!(texts("a: 1\n...\n# bye\n"), [("a: 1\n...\n", 1)]);
    }
}
