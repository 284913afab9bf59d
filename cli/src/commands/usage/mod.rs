//! `mini usage`: a tenant's usage records over a range of whole hours — CPU core-seconds used
//! and allocated, memory GiB-seconds allocated and its peak, storage GiB-hours, instance-hours,
//! and requests and response bytes through the ingress — per App or per UTC day, as an invoice-like table, CSV or JSON, priced when
//! given a price list. A tenant key reads its own tenant only.

mod prices;
mod render;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use minicloud_proto::v1::{RecordsGrouping, RecordsRequest};

use crate::client::{Client, ConnectArgs};
use crate::output;
use prices::PriceList;
use render::{By, Heading};
use when::{end_of_hour, parse_when, start_of_month};

/// The `-o` formats of `mini usage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum UsageFormat {
    /// An invoice-like table with a total line.
    #[default]
    Table,
    /// One line per record, with a header line.
    Csv,
    /// One JSON document with the records and their total.
    Json,
}

/// Flags of `mini usage`.
#[derive(Args, Debug)]
pub struct UsageArgs {
    /// The start: a UTC date (2026-12-01) or an RFC 3339 time on a whole hour
    /// (2026-12-03T17:00:00Z) [default: the start of this month, UTC].
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    from: Option<i64>,
    /// The end (excluded), in the same forms [default: the end of the current hour].
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    to: Option<i64>,
    /// One row per App, or per UTC day.
    #[arg(long, value_enum, default_value_t = By::App)]
    by: By,
    /// How to print it.
    #[arg(long, short = 'o', value_enum, default_value_t = UsageFormat::Table)]
    output: UsageFormat,
    /// A price list (YAML: `currency`, and prices per `cpuUsedCoreHour`,
    /// `cpuAllocatedCoreHour`, `memoryAllocatedGibHour`, `storageGibHour`, `instanceHour`,
    /// `ingressMillionRequests`, `ingressGib`), for a cost column.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `mini usage`.
pub async fn run(args: UsageArgs) -> Result<ExitCode> {
    let prices = args.prices.as_deref().map(PriceList::load).transpose()?;
    let client = Client::connect(&args.connect).await?;
    let tenant = client.tenant().to_owned();
    if tenant == "*" {
        bail!("usage is reported for one tenant at a time; name it with -t TENANT");
    }
    let now = chrono::Utc::now();
    let range = (
        args.from.unwrap_or_else(|| start_of_month(now)),
        args.to.unwrap_or_else(|| end_of_hour(now)),
    );
    let request = RecordsRequest {
        tenant,
        from_unix_seconds: range.0,
        to_unix_seconds: range.1,
        by: match args.by {
            By::App => RecordsGrouping::App,
            By::Day => RecordsGrouping::Day,
        }
        .into(),
    };
    let report = client.usage_records(request).await?;
    let heading = Heading {
        range,
        by: args.by,
        prices: prices.as_ref(),
    };
    let text = match args.output {
        UsageFormat::Table => render::table(&report, &heading),
        UsageFormat::Csv => render::csv(&report, &heading)?,
        UsageFormat::Json => render::json(&report, &heading),
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
