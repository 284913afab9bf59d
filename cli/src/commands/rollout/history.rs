//! `mini rollout history APP`: the App's Releases, oldest first — revision, name, image, age,
//! and whether each is the current one, was rolled back, or was superseded.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;
use minicloud_controllers::app::is_failed;
use minicloud_manifests::{App, Kind, Release};

use crate::apps::{list_of, read_app};
use crate::client::{Client, ConnectArgs};
use crate::output::{self, age, table};

/// Flags of `mini rollout history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The App's name.
    app: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Prints the table.
pub async fn run(args: HistoryArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let app = read_app(&mut client, &args.app).await?;
    let releases = list_of::<Release>(&mut client, Kind::Release, &app).await?;
    output::print(&render(&app, &releases, SystemTime::now()))?;
    Ok(ExitCode::SUCCESS)
}

/// The table of the App's own Releases (not those of a deleted namesake), by revision.
fn render(app: &App, releases: &[Release], now: SystemTime) -> String {
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    let mut own: Vec<&Release> = releases
        .iter()
        .filter(|r| r.metadata.owner_references.iter().any(|o| o.uid == uid))
        .collect();
    own.sort_by_key(|r| r.spec.revision);
    let current = app
        .status
        .as_ref()
        .and_then(|s| s.current_release.as_deref());
    let header: Vec<String> = ["REVISION", "RELEASE", "IMAGE", "CREATED", "STATUS"]
        .map(String::from)
        .into();
    let rows: Vec<Vec<String>> = own
        .iter()
        .map(|release| {
            let created = release.metadata.creation_timestamp.as_deref();
            vec![
                release.spec.revision.to_string(),
                release.metadata.name.clone(),
                release.spec.app_spec.image.clone().unwrap_or_default(),
                created.map_or_else(String::new, |at| age::since(at, now) + " ago"),
                standing(release, current).to_owned(),
            ]
        })
        .collect();
    table::render(&header, &rows)
}

/// Whether `release` runs now, was rolled back, or was superseded by a later one.
fn standing(release: &Release, current: Option<&str>) -> &'static str {
    if current == Some(release.metadata.name.as_str()) {
        "current"
    } else if is_failed(release) {
        "rolled back"
    } else {
        "superseded"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use minicloud_manifests::{
        AppSpec, AppStatus, BasicStatus, Condition, ConditionStatus, ObjectMeta, OwnerReference,
        ReleaseSpec,
    };

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn release(revision: u64, image: &str, owner: &str, failed: bool) -> Release {
        let mut meta = ObjectMeta::named(format!("web-{revision}"), Some("acme"));
        meta.creation_timestamp =
            Some(humantime::format_rfc3339_seconds(at(revision * 60)).to_string());
        meta.owner_references = vec![OwnerReference {
            kind: Kind::App,
            name: "web".into(),
            uid: owner.into(),
            controller: true,
        }];
        let spec = ReleaseSpec {
            app: "web".into(),
            revision,
            spec_hash: format!("h{revision}"),
            app_spec: AppSpec {
                image: Some(image.into()),
                ..AppSpec::default()
            },
            image_digest: None,
        };
        let mut release = Release::new(meta, spec);
        if failed {
            release.status = Some(BasicStatus {
                observed_generation: None,
                conditions: vec![Condition {
                    type_: "Failed".into(),
                    status: ConditionStatus::True,
                    reason: "ProgressDeadlineExceeded".into(),
                    message: "rolled back".into(),
                    last_transition_time: None,
                }],
            });
        }
        release
    }

    #[test]
    fn the_history_lists_own_releases_by_revision_with_their_standing() {
        let mut meta = ObjectMeta::named("web", Some("acme"));
        meta.uid = Some("u".into());
        let mut app = App::new(meta, AppSpec::default());
        app.status = Some(AppStatus {
            current_release: Some("web-1".into()),
            ..AppStatus::default()
        });
        let releases = [
            release(2, "hello:2", "u", true),
            release(1, "hello:1", "u", false),
            release(3, "hello:3", "a-deleted-namesake", false),
        ];
        let text = render(&app, &releases, at(300));
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|line| {
                line.split("   ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            lines[0],
            ["REVISION", "RELEASE", "IMAGE", "CREATED", "STATUS"]
        );
        assert_eq!(lines[1], ["1", "web-1", "hello:1", "4m ago", "current"]);
        assert_eq!(lines[2], ["2", "web-2", "hello:2", "3m ago", "rolled back"]);
        assert_eq!(lines.len(), 3, "{text}");
    }

    #[test]
    fn a_release_that_is_neither_current_nor_failed_was_superseded() {
        let release = release(1, "hello:1", "u", false);
        assert_eq!(standing(&release, Some("web-2")), "superseded");
        assert_eq!(standing(&release, None), "superseded");
    }
}
