//! `mini rollout status APP`: follow the App through a watch, printing a line whenever the
//! rollout moves (`Waiting for app/web rollout to finish: 2 of 3 updated replicas are
//! ready...`), until every replica runs the spec's Release, ready — exit 0 — or that Release
//! fails or is rolled back — exit 1 with the reason.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use minicloud_controllers::app::{Progress, progress};
use minicloud_manifests::{App, Instance, Kind, Release};
use minicloud_proto::v1::{EventType, WatchRequest};

use crate::apps::{list_of, read_app, typed};
use crate::client::{self, Client, ConnectArgs};
use crate::output;

/// Flags of `mini rollout status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The App's name.
    app: String,
    /// Give up after this long (`90s`, `5m`); the rollout itself goes on [default: wait
    /// until it finishes or fails].
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Follows the rollout to its end.
pub async fn run(args: StatusArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let app = read_app(&mut client, &args.app).await?;
    let follow = follow(&mut client, app);
    match args.timeout {
        None => follow.await,
        Some(limit) => tokio::time::timeout(limit, follow).await.map_err(|_| {
            anyhow!(
                "app/{}: the rollout did not finish within {}; it goes on, and `mini rollout \
                 status {}` follows it again",
                args.app,
                humantime::format_duration(limit),
                args.app
            )
        })?,
    }
}

/// Prints each new line of progress from `app` on, as the App changes, until the end.
async fn follow(client: &mut Client, app: App) -> Result<ExitCode> {
    let name = app.metadata.name.clone();
    let request = WatchRequest {
        kind: Kind::App.as_str().to_owned(),
        tenant: app.metadata.tenant.clone().unwrap_or_default(),
        label_selector: String::new(),
        resource_version: app.metadata.resource_version.clone().unwrap_or_default(),
    };
    let mut events = client.watch(request).await?;
    let mut last = String::new();
    let mut app = Some(app);
    loop {
        if let Some(app) = app.take() {
            let releases = list_of::<Release>(client, Kind::Release, &app).await?;
            let instances = list_of::<Instance>(client, Kind::Instance, &app).await?;
            let progress = progress(&app, &releases, &instances);
            if let Some(exit) = report(&name, &progress, &mut last)? {
                return Ok(exit);
            }
        }
        let Some(event) = events
            .message()
            .await
            .map_err(client::RequestFailed::from)?
        else {
            bail!("app/{name}: the server ended the watch before the rollout finished");
        };
        let Some(object) = event.object.as_ref() else {
            continue;
        };
        let changed: App = typed(Kind::App, client::decode(object)?)?;
        if changed.metadata.name != name {
            continue;
        }
        match event.r#type() {
            EventType::Deleted => bail!("app/{name} was deleted"),
            EventType::Added | EventType::Modified => app = Some(changed),
            EventType::Bookmark | EventType::Unspecified => {}
        }
    }
}

/// Prints the line for `progress` unless it is the `last` one printed; returns the exit status
/// once the rollout is over (an error when it failed).
fn report(app: &str, progress: &Progress, last: &mut String) -> Result<Option<ExitCode>> {
    let line = line(app, progress);
    if let Progress::Failed { .. } = progress {
        bail!("{line}");
    }
    if line != *last {
        output::print(&format!("{line}\n"))?;
        *last = line;
    }
    Ok(matches!(progress, Progress::Complete { .. }).then_some(ExitCode::SUCCESS))
}

/// What to tell about `progress`.
fn line(app: &str, progress: &Progress) -> String {
    let waiting = format!("Waiting for app/{app} rollout to finish");
    match progress {
        Progress::Pending => format!("{waiting}: the new release is not running yet..."),
        Progress::RollingOut {
            replicas,
            updated_ready,
            old,
            ..
        } if *old > 0 && updated_ready >= replicas => {
            format!("{waiting}: {old} old replicas are pending termination...")
        }
        Progress::RollingOut {
            replicas,
            updated_ready,
            ..
        } => format!("{waiting}: {updated_ready} of {replicas} updated replicas are ready..."),
        Progress::Complete { release } => format!("app/{app} successfully rolled out ({release})"),
        Progress::Failed { message } => format!("app/{app}: rollout failed: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rolling(updated_ready: usize, old: usize) -> Progress {
        Progress::RollingOut {
            release: "release web-2 (revision 2)".into(),
            replicas: 3,
            updated: 3,
            updated_ready,
            old,
        }
    }

    #[test]
    fn progress_lines_say_what_the_rollout_waits_for() {
        assert_eq!(
            line("web", &rolling(2, 1)),
            "Waiting for app/web rollout to finish: 2 of 3 updated replicas are ready..."
        );
        assert_eq!(
            line("web", &rolling(3, 2)),
            "Waiting for app/web rollout to finish: 2 old replicas are pending termination..."
        );
        assert_eq!(
            line("web", &rolling(3, 0)),
            "Waiting for app/web rollout to finish: 3 of 3 updated replicas are ready..."
        );
        let done = Progress::Complete {
            release: "release web-2 (revision 2)".into(),
        };
        assert_eq!(
            line("web", &done),
            "app/web successfully rolled out (release web-2 (revision 2))"
        );
    }

    #[test]
    fn a_line_is_printed_once_and_the_end_decides_the_exit() {
        let mut last = String::new();
        assert_eq!(report("web", &rolling(1, 2), &mut last).unwrap(), None);
        assert!(last.contains("1 of 3"));
        let done = Progress::Complete {
            release: "release web-2 (revision 2)".into(),
        };
        assert_eq!(
            report("web", &done, &mut last).unwrap(),
            Some(ExitCode::SUCCESS)
        );
    }

    #[test]
    fn a_failed_rollout_is_an_error_with_its_reason() {
        let failed = Progress::Failed {
            message: "rolled back to release web-1 (revision 1)".into(),
        };
        let error = report("web", &failed, &mut String::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "app/web: rollout failed: rolled back to release web-1 (revision 1)"
        );
    }
}
