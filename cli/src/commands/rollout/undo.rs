//! `mini rollout undo APP [--to-revision N]`: put an earlier Release's spec back on the App —
//! by default the newest Release before the latest one that differs from it and was not rolled
//! back. `replicas` and the update strategy stay as they are. The app controller records it as
//! the next revision, with the hash of the release gone back to, and keeps every Instance that
//! already runs that spec.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use minicloud_controllers::app::{is_failed, release_hash, undo_target, with_release};
use minicloud_manifests::{App, Release};

use crate::apps::{Change, change_app};
use crate::client::{Client, ConnectArgs};
use crate::output;

/// Flags of `mini rollout undo`.
#[derive(Args, Debug)]
pub struct UndoArgs {
    /// The App's name.
    app: String,
    /// The revision to go back to (`mini rollout history APP` lists them) [default: the
    /// previous one].
    #[arg(long, value_name = "N")]
    to_revision: Option<u64>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Applies the earlier spec, or says why there is nothing to do.
pub async fn run(args: UndoArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let to_revision = args.to_revision;
    let change = change_app(&client, &args.app, |app, releases| {
        undo(app, releases, to_revision)
    })
    .await?;
    let (Change::Write(_, line) | Change::Skip(line)) = change;
    output::print(&format!("{line}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// The App to write for the undo, and the line to print.
fn undo(app: &App, releases: &[Release], to_revision: Option<u64>) -> Result<Change<String>> {
    let target = undo_target(app, releases, to_revision)?;
    let name = &app.metadata.name;
    let revision = target.spec.revision;
    let undone = with_release(app, target);
    if release_hash(&undone) == release_hash(app) {
        let retry = match is_failed(target) {
            true => format!(", which was rolled back; `mini restart {name}` tries it again"),
            false => String::new(),
        };
        return Ok(Change::Skip(format!(
            "app/{name} already asks for the spec of revision {revision} ({}){retry}",
            target.metadata.name
        )));
    }
    let image = target.spec.app_spec.image.as_deref().unwrap_or("no image");
    let line = format!(
        "app/{name} rolled back to revision {revision} ({}, image {image})",
        target.metadata.name
    );
    Ok(Change::Write(Box::new(undone), line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{AppSpec, Kind, ObjectMeta, OwnerReference, ReleaseSpec};

    fn app(image: &str) -> App {
        let mut meta = ObjectMeta::named("web", Some("acme"));
        meta.uid = Some("u".into());
        let spec = AppSpec {
            image: Some(image.into()),
            ..AppSpec::default()
        };
        App::new(meta, spec)
    }

    fn release_of(app: &App, revision: u64) -> Release {
        let mut meta = ObjectMeta::named(format!("web-{revision}"), Some("acme"));
        meta.owner_references = vec![OwnerReference {
            kind: Kind::App,
            name: "web".into(),
            uid: "u".into(),
            controller: true,
        }];
        let spec = ReleaseSpec {
            app: "web".into(),
            revision,
            spec_hash: release_hash(app),
            app_spec: app.spec.clone(),
            image_digest: None,
        };
        Release::new(meta, spec)
    }

    #[test]
    fn undo_writes_the_previous_spec_and_says_where_it_went() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [release_of(&v1, 1), release_of(&v2, 2)];
        let Change::Write(undone, line) = undo(&v2, &releases, None).unwrap() else {
            panic!("undo should write the App")
        };
        assert_eq!(undone.spec.image.as_deref(), Some("hello:1"));
        assert_eq!(
            line,
            "app/web rolled back to revision 1 (web-1, image hello:1)"
        );
    }

    #[test]
    fn undo_to_the_spec_already_asked_for_writes_nothing() {
        let v1 = app("hello:1");
        let releases = [release_of(&v1, 1), release_of(&app("hello:2"), 2)];
        let Change::Skip(line) = undo(&v1, &releases, Some(1)).unwrap() else {
            panic!("nothing to write")
        };
        assert_eq!(
            line,
            "app/web already asks for the spec of revision 1 (web-1)"
        );
    }

    #[test]
    fn undo_without_an_earlier_release_fails_and_names_the_history_command() {
        let v1 = app("hello:1");
        let error = undo(&v1, &[release_of(&v1, 1)], None).err().unwrap();
        assert!(
            error.to_string().contains("mini rollout history web"),
            "{error}"
        );
    }
}
