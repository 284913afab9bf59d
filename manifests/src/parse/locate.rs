//! Maps validation field paths (`spec.env[2].name`) back to YAML line/column, by reading the
//! document a third time into a tree of positions. Only done when validation fails.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::split::DocText;
use super::yaml::options;
use crate::validate::ValidationErrors;

/// Fills in `position` of each error whose path can be found in `doc`.
pub(super) fn locate(doc: DocText<'_>, errors: &mut ValidationErrors) {
    let Ok(root) = serde_saphyr::from_str_with_options::<Spanned<Node>>(doc.text, options()) else {
        return;
    };
    for error in &mut errors.0 {
        let loc = find(&root, &segments(&error.path)).referenced;
        if loc.line() > 0 {
            error.position = Some((loc.line() + doc.first_line - 1, loc.column()));
        }
    }
}

/// The deepest node along `path` (the parent, when a field is missing).
fn find<'a>(root: &'a Spanned<Node>, path: &[Segment]) -> &'a Spanned<Node> {
    let mut node = root;
    for segment in path {
        let next = match (&node.value, segment) {
            (Node::Map(entries), Segment::Key(key)) => {
                entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            (Node::Seq(items), Segment::Index(i)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2]["c.d"]` into `a`, `b`, `2`, `c.d`.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix("[\"") {
            let end = quoted.find("\"]").unwrap_or(quoted.len());
            out.push(Segment::Key(quoted[..end].to_owned()));
            rest = quoted.get(end + 2..).unwrap_or("");
        } else if let Some(index) = rest.strip_prefix('[') {
            let end = index.find(']').unwrap_or(index.len());
            out.extend(index[..end].parse().ok().map(Segment::Index));
            rest = index.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Segment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    out
}

/// A YAML value reduced to its shape and positions.
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_keys_and_indexes() {
        use Segment::{Index, Key};
        assert_eq!(
            segments(r#"spec.env[2].name"#),
            [
                Key("spec".into()),
                Key("env".into()),
                Index(2),
                Key("name".into())
            ]
        );
        assert_eq!(
            segments(r#"metadata.labels["a.b/c"]"#),
            [
                Key("metadata".into()),
                Key("labels".into()),
                Key("a.b/c".into())
            ]
        );
    }
}
