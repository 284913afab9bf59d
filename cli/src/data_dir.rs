//! The guard on `mini server`'s data directory: it holds the admin key, the Secret key and the
//! embedded store, so the server refuses to start where one `git add -A` would publish them —
//! inside a git work tree that does not ignore the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};
use minicloud_common::server_files::{ADMIN_KEY_FILE, SECRET_KEY_FILE};

/// Refuses `data_dir` when it lies inside a git work tree and git does not ignore it. When git
/// cannot answer (it is not installed, or refuses the repository), the server starts with a
/// warning: nothing can be committed from here without git either.
pub fn refuse_if_published(data_dir: &Path) -> Result<()> {
    let dir = absolute(data_dir);
    let Some(work_tree) = work_tree_of(&dir) else {
        return Ok(());
    };
    match ignored_by_git(&work_tree, &dir) {
        Some(true) => Ok(()),
        Some(false) => bail!(
            "the data directory {dir} is inside the git work tree {tree} and git does not \
             ignore it: its {ADMIN_KEY_FILE}, {SECRET_KEY_FILE} and store would be published by \
             the next `git add -A`. Keep minicloud's state outside the checkout (`--data-dir \
             /var/lib/minicloud`), or add the directory to {tree}/.gitignore (for example a \
             line `/{name}/`)",
            dir = dir.display(),
            tree = work_tree.display(),
            name = dir
                .strip_prefix(&work_tree)
                .unwrap_or(&dir)
                .to_string_lossy(),
        ),
        None => {
            tracing::warn!(
                data_dir = %dir.display(),
                work_tree = %work_tree.display(),
                "the data directory is inside a git work tree and git could not say whether it \
                 is ignored; make sure its key files are never committed"
            );
            Ok(())
        }
    }
}

/// `path` made absolute, with the links of its existing part resolved.
fn absolute(path: &Path) -> PathBuf {
    let joined = match path.is_absolute() {
        true => path.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(path),
    };
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            return joined;
        };
        rest.push(name.to_owned());
        existing = parent;
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    resolved.extend(rest.iter().rev());
    resolved
}

/// The nearest folder at or above `dir` that holds a `.git` (a repository, or a worktree's
/// link to one).
fn work_tree_of(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Whether git ignores the directory `dir` of `work_tree` (a tracked file inside it is not
/// ignored); `None` when git cannot tell.
fn ignored_by_git(work_tree: &Path, dir: &Path) -> Option<bool> {
    let mut as_directory = dir.as_os_str().to_owned();
    as_directory.push("/");
    let status = Command::new("git")
        .arg("-C")
        .arg(work_tree)
        .args(["check-ignore", "--quiet", "--"])
        .arg(as_directory)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(status) => match status.code() {
            Some(0) => Some(true),
            Some(1) => Some(false),
            _ => None,
        },
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("git")
            .arg("init")
            .arg("--quiet")
            .arg(dir.path())
            .status()
            .expect("git is installed");
        assert!(status.success());
        dir
    }

    #[test]
    fn a_data_dir_in_a_work_tree_that_does_not_ignore_it_is_refused() {
        let repo = repository();
        let data_dir = repo.path().join("minicloud-data");
        let error = refuse_if_published(&data_dir).unwrap_err().to_string();
        assert!(error.contains("is inside the git work tree"), "{error}");
        assert!(error.contains("--data-dir /var/lib/minicloud"), "{error}");
        assert!(error.contains("`/minicloud-data/`"), "{error}");
    }

    #[test]
    fn an_ignored_data_dir_is_accepted_whether_or_not_it_exists() {
        let repo = repository();
        std::fs::write(repo.path().join(".gitignore"), "/minicloud-data/\n").unwrap();
        let data_dir = repo.path().join("minicloud-data");
        refuse_if_published(&data_dir).unwrap();
        std::fs::create_dir(&data_dir).unwrap();
        refuse_if_published(&data_dir).unwrap();
    }

    #[test]
    fn a_data_dir_nested_deeper_in_a_work_tree_is_refused_too() {
        let repo = repository();
        std::fs::write(repo.path().join(".gitignore"), "/minicloud-data/\n").unwrap();
        let data_dir = repo.path().join("deploy/minicloud-data");
        assert!(refuse_if_published(&data_dir).is_err());
    }

    #[test]
    fn a_data_dir_outside_any_work_tree_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        refuse_if_published(&dir.path().join("state")).unwrap();
    }
}
