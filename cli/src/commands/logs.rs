//! `mini logs APP`: the output of every instance of an App, merged, each line prefixed with its
//! instance; `-f` keeps following across restarts, scale-ups and new releases.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::Args;

use crate::client::{Client, ConnectArgs, RequestFailed};

/// Flags of `mini logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The App.
    app: String,
    /// Keep streaming new output until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// Lines from the end of each instance's output to start with [default: all].
    #[arg(long, value_name = "N")]
    tail: Option<u32>,
    /// Only output of the last duration, e.g. `30s`, `10m`, `2h`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    since: Option<Duration>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Prints the lines as they arrive: stdout lines on stdout, stderr lines on stderr.
pub async fn run(args: LogsArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let since = args.since.map_or(0, since_unix_seconds);
    let mut lines = client
        .app_logs(&args.app, args.follow, args.tail.unwrap_or(0), since)
        .await?;
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
        writeln!(target, "[{}] {}", line.instance, line.text)?;
        target.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn since_unix_seconds(ago: Duration) -> i64 {
    let start = SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH);
    let seconds = start.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(seconds).unwrap_or(i64::MAX).max(1)
}
