//! A price list for `mini usage --prices FILE`: a currency and a price per unit of what is
//! metered, giving each row a cost. YAML, strictly read (an unknown name is an error, so a typo
//! does not price something at zero without a word), e.g.
//!
//! ```yaml
//! currency: EUR
//! cpuUsedCoreHour: 0.04          # per core-hour of CPU used
//! cpuAllocatedCoreHour: 0.01     # per core-hour of CPU limits while running
//! memoryAllocatedGibHour: 0.005  # per GiB-hour of memory limits while running
//! storageGibHour: 0.0002         # per GiB-hour of volume size
//! instanceHour: 0.001            # per hour an instance runs
//! ingressMillionRequests: 0.5    # per million requests through the ingress
//! ingressGib: 0.02               # per GiB of response bodies sent through the ingress
//! ```

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use minicloud_proto::v1::UsageRecord;
use serde::Deserialize;

const GIB: f64 = (1u64 << 30) as f64;

/// Prices per unit; what is not named costs nothing.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceList {
    /// Printed beside costs.
    #[serde(default)]
    pub currency: String,
    /// Per core-hour of CPU used.
    #[serde(default)]
    pub cpu_used_core_hour: f64,
    /// Per core-hour of CPU limits while running.
    #[serde(default)]
    pub cpu_allocated_core_hour: f64,
    /// Per GiB-hour of memory limits while running.
    #[serde(default)]
    pub memory_allocated_gib_hour: f64,
    /// Per GiB-hour of volume size.
    #[serde(default)]
    pub storage_gib_hour: f64,
    /// Per hour an instance runs.
    #[serde(default)]
    pub instance_hour: f64,
    /// Per million requests through the ingress.
    #[serde(default)]
    pub ingress_million_requests: f64,
    /// Per GiB of response bodies sent through the ingress.
    #[serde(default)]
    pub ingress_gib: f64,
}

impl PriceList {
    /// The price list in the file at `path`.
    pub fn load(path: &Path) -> Result<PriceList> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the price list {}", path.display()))?;
        PriceList::parse(&text).with_context(|| format!("price list {}", path.display()))
    }

    /// A price list from its YAML text.
    pub fn parse(text: &str) -> Result<PriceList> {
        let prices: PriceList = serde_saphyr::from_str(text)?;
        for (name, price) in prices.named() {
            if !price.is_finite() || price < 0.0 {
                bail!("{name} is {price}; a price is a number of 0 or more");
            }
        }
        Ok(prices)
    }

    fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("cpuUsedCoreHour", self.cpu_used_core_hour),
            ("cpuAllocatedCoreHour", self.cpu_allocated_core_hour),
            ("memoryAllocatedGibHour", self.memory_allocated_gib_hour),
            ("storageGibHour", self.storage_gib_hour),
            ("instanceHour", self.instance_hour),
            ("ingressMillionRequests", self.ingress_million_requests),
            ("ingressGib", self.ingress_gib),
        ]
    }

    /// What `record` costs.
    pub fn cost(&self, record: &UsageRecord) -> f64 {
        record.cpu_used_core_seconds / 3_600.0 * self.cpu_used_core_hour
            + record.cpu_allocated_core_seconds / 3_600.0 * self.cpu_allocated_core_hour
            + record.memory_allocated_gib_seconds / 3_600.0 * self.memory_allocated_gib_hour
            + record.storage_gib_hours * self.storage_gib_hour
            + record.instance_hours * self.instance_hour
            + record.ingress_requests as f64 / 1e6 * self.ingress_million_requests
            + record.ingress_bytes as f64 / GIB * self.ingress_gib
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_adds_up_every_priced_quantity() {
        let prices = PriceList::parse(
            "currency: EUR\ncpuUsedCoreHour: 0.04\nmemoryAllocatedGibHour: 0.01\nstorageGibHour: 0.5\ninstanceHour: 1\ningressMillionRequests: 2\ningressGib: 4\n",
        )
        .unwrap();
        let record = UsageRecord {
            cpu_used_core_seconds: 7_200.0,
            memory_allocated_gib_seconds: 3_600.0,
            storage_gib_hours: 2.0,
            instance_hours: 3.0,
            ingress_requests: 500_000,
            ingress_bytes: 1 << 29,
            ..UsageRecord::default()
        };
        assert_eq!(prices.currency, "EUR");
        let expected = 0.08 + 0.01 + 1.0 + 3.0 + 1.0 + 2.0;
        assert!((prices.cost(&record) - expected).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_name_is_an_error() {
        let refusal = PriceList::parse("cpuCoreHour: 1\n").unwrap_err();
        assert!(
            format!("{refusal:#}").contains("cpuCoreHour"),
            "{refusal:#}"
        );
    }

    #[test]
    fn a_negative_price_is_an_error() {
        let refusal = PriceList::parse("instanceHour: -1\n").unwrap_err();
        assert!(
            refusal.to_string().contains("instanceHour is -1"),
            "{refusal}"
        );
    }
}
