//! Writes the JSON Schemas of all kinds to `manifests/schemas/`, or with `--check` exits
//! non-zero when the checked-in files differ from what the types generate.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use minicloud_manifests::schema;

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let result = if std::env::args().any(|arg| arg == "--check") {
        check(&dir)
    } else {
        write(&dir)
    };
    match result {
        Ok(message) => {
            println!("{message}: {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &Path) -> Result<&'static str, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, content) in schema::files() {
        let path = dir.join(name);
        fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok("schemas written")
}

fn check(dir: &Path) -> Result<&'static str, String> {
    let stale: Vec<String> = schema::files()
        .into_iter()
        .filter(|(name, content)| fs::read_to_string(dir.join(name)).ok().as_ref() != Some(content))
        .map(|(name, _)| name)
        .collect();
    if stale.is_empty() {
        Ok("schemas are up to date")
    } else {
        Err(format!(
            "schemas out of date: {}; run `cargo run -p minicloud-manifests --bin schemagen`",
            stale.join(", ")
        ))
    }
}
