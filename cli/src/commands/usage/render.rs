//! A usage report for people and machines: an invoice-like table with a total line, CSV (one
//! row per record, full precision, no total), or one JSON document with the records and the
//! total. Costs appear when a price list was given.

use minicloud_proto::v1::{RecordsReport, UsageRecord};
use serde_json::{Value, json};

use super::prices::PriceList;
use super::when::{day, stamp};
use crate::output::{table, units};

/// What a report's rows are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One row per App over the whole range.
    #[default]
    App,
    /// One row per UTC day, every App together.
    Day,
}

/// What is printed, besides the records.
pub struct Heading<'a> {
    /// The range asked for, Unix seconds.
    pub range: (i64, i64),
    /// How rows are grouped.
    pub by: By,
    /// The prices, for a cost column.
    pub prices: Option<&'a PriceList>,
}

/// The sum of `records`; the peak is the largest row's.
pub fn total(records: &[UsageRecord]) -> UsageRecord {
    records
        .iter()
        .fold(UsageRecord::default(), |sum, r| UsageRecord {
            cpu_used_core_seconds: sum.cpu_used_core_seconds + r.cpu_used_core_seconds,
            cpu_allocated_core_seconds: sum.cpu_allocated_core_seconds
                + r.cpu_allocated_core_seconds,
            memory_allocated_gib_seconds: sum.memory_allocated_gib_seconds
                + r.memory_allocated_gib_seconds,
            memory_peak_bytes: sum.memory_peak_bytes.max(r.memory_peak_bytes),
            storage_gib_hours: sum.storage_gib_hours + r.storage_gib_hours,
            instance_hours: sum.instance_hours + r.instance_hours,
            ingress_requests: sum.ingress_requests + r.ingress_requests,
            ingress_bytes: sum.ingress_bytes + r.ingress_bytes,
            ..sum
        })
}

fn label(record: &UsageRecord, by: By) -> String {
    match (by, record.app.as_str()) {
        (By::Day, _) => day(record.period_start_unix_seconds),
        (By::App, "") => "(no app)".to_owned(),
        (By::App, app) => app.to_owned(),
    }
}

/// The report as a table: a title, the rows, a total line and what the units are.
pub fn table(report: &RecordsReport, heading: &Heading) -> String {
    let mut header: Vec<String> = [
        if heading.by == By::Day { "DAY" } else { "APP" },
        "CPU-USED",
        "CPU-ALLOC",
        "MEM-ALLOC",
        "MEM-PEAK",
        "STORAGE",
        "INSTANCE-H",
        "REQUESTS",
        "INGRESS",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(prices) = heading.prices {
        header.push(format!("COST {}", prices.currency).trim_end().to_owned());
    }
    let row = |name: String, record: &UsageRecord| {
        let mut cells = vec![
            name,
            amount(record.cpu_used_core_seconds),
            amount(record.cpu_allocated_core_seconds),
            amount(record.memory_allocated_gib_seconds),
            units::bytes(record.memory_peak_bytes),
            amount(record.storage_gib_hours),
            amount(record.instance_hours),
            record.ingress_requests.to_string(),
            units::bytes(record.ingress_bytes),
        ];
        if let Some(prices) = heading.prices {
            cells.push(format!("{:.2}", prices.cost(record)));
        }
        cells
    };
    let mut rows: Vec<Vec<String>> = report
        .records
        .iter()
        .map(|record| row(label(record, heading.by), record))
        .collect();
    rows.push(row("TOTAL".to_owned(), &total(&report.records)));
    let integrated = match report.integrated_to_millis {
        0 => "nothing metered yet".to_owned(),
        millis => format!("integrated to {}", stamp(millis / 1_000)),
    };
    format!(
        "usage of tenant {} from {} to {} ({integrated})\n{}CPU in core-seconds (used; limits x running time), memory allocated in GiB-seconds, storage in GiB-hours, ingress in response body bytes\n",
        report.tenant,
        stamp(heading.range.0),
        stamp(heading.range.1),
        table::render(&header, &rows),
    )
}

/// An amount with as many decimals as a person needs to compare it.
fn amount(value: f64) -> String {
    match value {
        0.0 => "0".to_owned(),
        v if v >= 100.0 => format!("{v:.1}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3}"),
    }
}

/// The report as CSV with a header line.
pub fn csv(report: &RecordsReport, heading: &Heading) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        if heading.by == By::Day { "day" } else { "app" },
        "period_start",
        "period_end",
        "cpu_used_core_seconds",
        "cpu_allocated_core_seconds",
        "memory_allocated_gib_seconds",
        "memory_peak_bytes",
        "storage_gib_hours",
        "instance_hours",
        "ingress_requests",
        "ingress_bytes",
    ];
    if heading.prices.is_some() {
        header.extend(["cost", "currency"]);
    }
    writer.write_record(&header)?;
    for record in &report.records {
        let name = match heading.by {
            By::Day => day(record.period_start_unix_seconds),
            By::App => record.app.clone(),
        };
        let mut cells = vec![
            name,
            stamp(record.period_start_unix_seconds),
            stamp(record.period_end_unix_seconds),
            record.cpu_used_core_seconds.to_string(),
            record.cpu_allocated_core_seconds.to_string(),
            record.memory_allocated_gib_seconds.to_string(),
            record.memory_peak_bytes.to_string(),
            record.storage_gib_hours.to_string(),
            record.instance_hours.to_string(),
            record.ingress_requests.to_string(),
            record.ingress_bytes.to_string(),
        ];
        if let Some(prices) = heading.prices {
            cells.push(prices.cost(record).to_string());
            cells.push(prices.currency.clone());
        }
        writer.write_record(&cells)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

/// The report as one JSON document.
pub fn json(report: &RecordsReport, heading: &Heading) -> String {
    let entry = |record: &UsageRecord| {
        let mut entry = json!({
            "periodStart": stamp(record.period_start_unix_seconds),
            "periodEnd": stamp(record.period_end_unix_seconds),
            "cpuUsedCoreSeconds": record.cpu_used_core_seconds,
            "cpuAllocatedCoreSeconds": record.cpu_allocated_core_seconds,
            "memoryAllocatedGibSeconds": record.memory_allocated_gib_seconds,
            "memoryPeakBytes": record.memory_peak_bytes,
            "storageGibHours": record.storage_gib_hours,
            "instanceHours": record.instance_hours,
            "ingressRequests": record.ingress_requests,
            "ingressBytes": record.ingress_bytes,
        });
        if let Some(prices) = heading.prices {
            entry["cost"] = json!(prices.cost(record));
        }
        entry
    };
    let records: Vec<Value> = report
        .records
        .iter()
        .map(|record| {
            let mut row = entry(record);
            match heading.by {
                By::App => row["app"] = json!(record.app),
                By::Day => row["day"] = json!(day(record.period_start_unix_seconds)),
            }
            row
        })
        .collect();
    let mut document = json!({
        "tenant": report.tenant,
        "from": stamp(heading.range.0),
        "to": stamp(heading.range.1),
        "by": if heading.by == By::Day { "day" } else { "app" },
        "integratedToMillis": report.integrated_to_millis,
        "records": records,
        "total": entry(&total(&report.records)),
    });
    if let Some(prices) = heading.prices {
        document["currency"] = json!(prices.currency);
    }
    serde_json::to_string_pretty(&document).expect("JSON values always serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> RecordsReport {
        let record = |app: &str, cpu: f64| UsageRecord {
            app: app.into(),
            period_start_unix_seconds: 1_796_083_200,
            period_end_unix_seconds: 1_796_169_600,
            cpu_used_core_seconds: cpu,
            cpu_allocated_core_seconds: 1_800.0,
            memory_allocated_gib_seconds: 225.0,
            memory_peak_bytes: 40 << 20,
            storage_gib_hours: 0.0,
            instance_hours: 1.0,
            ingress_requests: 10,
            ingress_bytes: 2048,
        };
        RecordsReport {
            tenant: "acme".into(),
            records: vec![record("db", 12.5), record("web", 900.25)],
            integrated_to_millis: 1_796_090_400_000,
        }
    }

    fn heading(prices: Option<&PriceList>) -> Heading<'_> {
        Heading {
            range: (1_796_083_200, 1_796_169_600),
            by: By::App,
            prices,
        }
    }

    #[test]
    fn the_table_ends_with_the_total_and_the_units() {
        let text = table(&report(), &heading(None));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "usage of tenant acme from 2026-12-01T00:00:00Z to 2026-12-02T00:00:00Z (integrated to 2026-12-01T02:00:00Z)"
        );
        assert!(
            lines[1].starts_with("APP") && lines[1].ends_with("INGRESS"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("TOTAL") && lines[4].contains("912.8"),
            "{text}"
        );
        assert!(lines[5].starts_with("CPU in core-seconds"), "{text}");
    }

    #[test]
    fn prices_add_a_cost_column() {
        let prices = PriceList {
            currency: "EUR".into(),
            instance_hour: 1.5,
            ..PriceList::default()
        };
        let text = table(&report(), &heading(Some(&prices)));
        assert!(text.lines().nth(1).unwrap().ends_with("COST EUR"), "{text}");
        assert!(text.lines().nth(4).unwrap().ends_with("3.00"), "{text}");
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_record() {
        let text = csv(&report(), &heading(None)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("app,period_start,period_end,cpu_used_core_seconds"));
        assert_eq!(
            lines[2],
            "web,2026-12-01T00:00:00Z,2026-12-02T00:00:00Z,900.25,1800,225,41943040,0,1,10,2048"
        );
    }

    #[test]
    fn json_carries_the_records_and_their_total() {
        let document: Value = serde_json::from_str(&json(&report(), &heading(None))).unwrap();
        assert_eq!(document["records"][1]["app"], "web");
        assert_eq!(document["total"]["cpuUsedCoreSeconds"], 912.75);
        assert_eq!(document["total"]["instanceHours"], 2.0);
        assert_eq!(document["total"]["ingressRequests"], 20);
    }
}
