//! The client configuration file, `$XDG_CONFIG_HOME/minicloud/config` (by default
//! `~/.config/minicloud/config`): which server to talk to and in which tenant.
//!
//! ```yaml
//! current-context: home          # optional; without it the top-level fields apply
//! server: http://127.0.0.1:7070
//! tenant: default
//! key: mc_acme_1a2b3c4d_…        # written by `mini login`
//! contexts:
//!   home: {server: http://10.0.0.2:7070, tenant: acme}
//! ```
//!
//! Unknown fields are ignored so that files written by newer versions still work.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use minicloud_common::private_file::write_private;
use serde::Deserialize;

/// Where to connect and in which tenant, as far as the config file says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Context {
    /// The server URL.
    pub server: Option<String>,
    /// The tenant used when the command line names none.
    pub tenant: Option<String>,
    /// The API key presented to the server (`mini login` writes it; the file is kept 0600).
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ConfigFile {
    #[serde(flatten)]
    top: Context,
    current_context: Option<String>,
    #[serde(default)]
    contexts: BTreeMap<String, Context>,
}

/// The config file's path, when a home or config directory is known.
pub fn path() -> Option<PathBuf> {
    path_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn path_from(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let base = match xdg_config_home.filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(home?).join(".config"),
    };
    Some(base.join("minicloud").join("config"))
}

/// The current context of the config file; empty when there is no file.
pub fn load() -> Result<Context> {
    let Some(path) = path().filter(|path| path.exists()) else {
        return Ok(Context::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    parse(&text).with_context(|| format!("config file {}", path.display()))
}

/// Saves `context`'s fields into the config file (into the current context, when the file has
/// one), keeping everything else; the file is written readable by its owner only (0600), since
/// it holds a key. Returns the file's path.
pub fn save(context: &Context) -> Result<PathBuf> {
    let path = path().context("neither XDG_CONFIG_HOME nor HOME is set; cannot save")?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => bail!("cannot read the config file {}: {error}", path.display()),
    };
    let mut file: serde_json::Map<String, serde_json::Value> = if text.trim().is_empty() {
        serde_json::Map::new()
    } else {
        serde_saphyr::from_str(&text).with_context(|| format!("config file {}", path.display()))?
    };
    let current = file
        .get("current-context")
        .and_then(|name| name.as_str())
        .map(str::to_owned);
    let target = match current {
        Some(name) => file
            .entry("contexts")
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
            .context("`contexts` in the config file is not a map")?
            .entry(name)
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
            .context("the current context in the config file is not a map")?,
        None => &mut file,
    };
    for (field, value) in [
        ("server", &context.server),
        ("tenant", &context.tenant),
        ("key", &context.key),
    ] {
        if let Some(value) = value {
            target.insert(field.to_owned(), serde_json::Value::String(value.clone()));
        }
    }
    let json = serde_json::to_string_pretty(&file)? + "\n";
    write_private(&path, json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn parse(text: &str) -> Result<Context> {
    if text.trim().is_empty() {
        return Ok(Context::default());
    }
    let file: ConfigFile = serde_saphyr::from_str(text)?;
    match file.current_context {
        None => Ok(file.top),
        Some(name) => match file.contexts.get(&name) {
            Some(context) => Ok(context.clone()),
            None => bail!("current-context {name:?} is not one of its contexts"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_fields_apply_without_a_current_context() {
        let context = parse("server: http://a:1\ntenant: acme\n").unwrap();
        assert_eq!(context.server.as_deref(), Some("http://a:1"));
        assert_eq!(context.tenant.as_deref(), Some("acme"));
    }

    #[test]
    fn the_current_context_wins_over_top_level_fields() {
        let text = "server: http://a:1\ncurrent-context: b\ncontexts:\n  b: {server: http://b:2}\n";
        assert_eq!(parse(text).unwrap().server.as_deref(), Some("http://b:2"));
    }

    #[test]
    fn a_missing_current_context_is_an_error() {
        let err = parse("current-context: nope\n").unwrap_err();
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }

    #[test]
    fn an_empty_file_is_an_empty_context() {
        assert_eq!(parse("\n").unwrap(), Context::default());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(parse("key: abc\nserver: http://a:1\n").is_ok());
    }

    #[test]
    fn xdg_config_home_is_honoured_before_home() {
        let os = |text: &str| Some(OsString::from(text));
        assert_eq!(
            path_from(os("/x"), os("/h")),
            Some(PathBuf::from("/x/minicloud/config"))
        );
        assert_eq!(
            path_from(os(""), os("/h")),
            Some(PathBuf::from("/h/.config/minicloud/config"))
        );
        assert_eq!(path_from(None, None), None);
    }
}
