//! Reading manifests named by `-f FILE|DIR|-`: a file, a directory (recursively, every
//! `*.yaml`, `*.yml` and `*.json`, in sorted path order) or standard input. Every document is
//! parsed and validated before anything is sent, and every problem is reported with its
//! `file:line:column`.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use minicloud_manifests::{ParseError, Resource, parse_and_validate};

/// The file name extensions read from a directory.
const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// One object read from a manifest file.
#[derive(Debug)]
pub struct Manifest {
    /// Where it was read from, for messages (`-` reads as `<stdin>`).
    pub source: String,
    /// The object.
    pub resource: Resource,
}

/// Every problem found in the inputs, one located line each.
#[derive(Debug)]
pub struct ManifestErrors(pub Vec<String>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ManifestErrors {}

/// Reads and validates every manifest the `-f` arguments name; fails with every problem found
/// when any document is wrong, so that nothing is applied from a half-broken set.
pub fn load(args: &[String]) -> Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for (source, text) in read_all(args)? {
        match parse_and_validate(&text) {
            Ok(resources) => manifests.extend(resources.into_iter().map(|resource| Manifest {
                source: source.clone(),
                resource,
            })),
            Err(error) => problems.extend(locate(&source, &error)),
        }
    }
    if !problems.is_empty() {
        return Err(ManifestErrors(problems).into());
    }
    if manifests.is_empty() {
        anyhow::bail!("no objects found in {}", args.join(", "));
    }
    Ok(manifests)
}

/// The text of every input, with the name to report it by.
fn read_all(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut inputs = Vec::new();
    for arg in args {
        if arg == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read manifests from standard input")?;
            inputs.push(("<stdin>".to_owned(), text));
            continue;
        }
        for path in collect(Path::new(arg))? {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            inputs.push((path.display().to_string(), text));
        }
    }
    Ok(inputs)
}

/// The files `path` names: itself, or the manifest files under it in sorted order.
pub fn collect(path: &Path) -> Result<Vec<PathBuf>> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut entries = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot list {}", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            files.extend(collect(&entry)?);
        } else if is_manifest(&entry) {
            files.push(entry);
        }
    }
    Ok(files)
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| MANIFEST_EXTENSIONS.contains(&extension))
}

/// One line per problem: `file:line:column: document 2 (App "web"): spec.x: message`.
fn locate(source: &str, error: &ParseError) -> Vec<String> {
    let at = |position: Option<(u64, u64)>| match position {
        Some((line, column)) => format!("{source}:{line}:{column}"),
        None => source.to_owned(),
    };
    let field = |path: Option<&str>| path.map(|path| format!("{path}: ")).unwrap_or_default();
    match error {
        ParseError::Document { document, problem } => vec![format!(
            "{}: {document}: {}{}",
            at(problem.position),
            field(problem.path.as_deref()),
            problem.message
        )],
        ParseError::Invalid { document, errors } => errors
            .0
            .iter()
            .map(|e| format!("{}: {document}: {}: {}", at(e.position), e.path, e.message))
            .collect(),
        other => vec![format!("{source}: {other}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str =
        "apiVersion: minicloud/v1\nkind: App\nmetadata: {name: web}\nspec:\n  image: hello:1\n";

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_directory_is_read_recursively_in_sorted_order_skipping_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a/z.json", "a/y.yml", "notes.txt", "c.yaml"] {
            write(dir.path(), name, "");
        }
        let names: Vec<String> = collect(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a/y.yml", "a/z.json", "b.yaml", "c.yaml"]);
    }

    #[test]
    fn a_file_is_read_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app.txt", APP);
        let path = dir.path().join("app.txt").display().to_string();
        assert_eq!(load(&[path]).unwrap()[0].resource.name(), "web");
    }

    #[test]
    fn an_unknown_field_is_reported_with_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ok.yaml", APP);
        write(dir.path(), "bad.yaml", &format!("{APP}  replicaz: 2\n"));
        let error = load(&[dir.path().display().to_string()]).unwrap_err();
        let message = error.to_string();
        let bad = dir.path().join("bad.yaml").display().to_string();
        assert!(message.starts_with(&format!("{bad}:6:3: ")), "{message}");
        assert!(message.contains("replicaz"), "{message}");
    }

    #[test]
    fn a_validation_error_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.yaml", &APP.replace("web", "Web_1"));
        let error = load(&[dir.path().display().to_string()]).unwrap_err();
        assert!(error.to_string().contains("metadata.name"), "{error}");
    }

    #[test]
    fn an_input_without_objects_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "empty.yaml", "---\n");
        assert!(load(&[dir.path().display().to_string()]).is_err());
    }

    #[test]
    fn the_hello_example_parses_and_validates() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello.yaml");
        let manifests = load(&[path.to_owned()]).unwrap();
        assert_eq!(manifests.len(), 1);
        assert_eq!(manifests[0].resource.name(), "hello");
        assert_eq!(manifests[0].resource.tenant(), Some("default"));
    }
}
