//! `mini logs APP`: the output of every instance of an App, merged, each line prefixed with its
//! instance, from the logs the nodes keep (so also after the instances, or the App, are gone);
//! filtered by Release, Instance, time and a regular expression; `-f` keeps following across
//! restarts, scale-ups, new releases and agent restarts.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::Args;

use minicloud_proto::v1::AppLogsRequest;

use crate::client::{Client, ConnectArgs, RequestFailed};

/// Flags of `mini logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The App.
    app: String,
    /// Keep streaming new output until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines (of every instance together) [default: all].
    #[arg(long, value_name = "N")]
    tail: Option<u32>,
    /// Only output of the last duration, e.g. `30s`, `10m`, `2h`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    since: Option<Duration>,
    /// Only output of one Release: its number (`3`) or name (`web-3`).
    #[arg(long, value_name = "N")]
    release: Option<String>,
    /// Only output of one Instance.
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,
    /// Only lines matching a regular expression (Rust regex syntax), searched on the nodes.
    #[arg(long, value_name = "REGEX")]
    grep: Option<String>,
    /// Start each line with the time it was written (RFC 3339).
    #[arg(long)]
    timestamps: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Prints the lines as they arrive: stdout lines on stdout, stderr lines on stderr.
pub async fn run(args: LogsArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let request = AppLogsRequest {
        tenant: String::new(),
        app: args.app,
        follow: args.follow,
        tail: args.tail.unwrap_or(0),
        since: args.since.map_or(0, since_unix_seconds),
        release: args.release.unwrap_or_default(),
        instance: args.instance.unwrap_or_default(),
        grep: args.grep.unwrap_or_default(),
    };
    let mut lines = client.app_logs(request).await?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    while let Some(line) = lines
        .message()
        .await
        .map_err(RequestFailed::from)
        .context("the log stream broke off")?
    {
        let target: &mut dyn std::io::Write = match line.stream.as_str() {
            "stderr" => &mut err,
            _ => &mut out,
        };
        if args.timestamps {
            write!(target, "{} ", written_at(line.time_unix_nanos))?;
        }
        writeln!(target, "[{}] {}", line.instance, line.text)?;
        target.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A line's time in RFC 3339 with nanoseconds.
fn written_at(unix_nanos: i64) -> humantime::Rfc3339Timestamp {
    let nanos = u64::try_from(unix_nanos).unwrap_or(0);
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos))
}

fn since_unix_seconds(ago: Duration) -> i64 {
    let start = SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH);
    let seconds = start.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(seconds).unwrap_or(i64::MAX).max(1)
}
