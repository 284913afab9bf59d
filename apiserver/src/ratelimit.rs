//! Per-caller rate limits: a token bucket (governor's GCRA) for every tenant key, by key
//! prefix; one for every tenant, shared by all its keys, holding [`TENANT_FACTOR`] times as
//! much (so issuing more keys does not buy more requests); and one for every client address
//! whose requests fail authentication — so neither a flooding tenant nor a flood of bad keys
//! can starve other callers. Admin keys, among them
//! the server's own controllers, agents and ingress, are not limited (like Kubernetes'
//! exempt priority level for cluster admins). Every refusal is counted by the bucket that was
//! empty (`key`, `tenant` or `client`), never by whose it was.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use minicloud_common::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// A sustained rate with a burst: `50/s` (also `/m`, `/h`) refilling a bucket of `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per `per`.
    pub requests: NonZeroU32,
    /// The period `requests` refill over.
    pub per: Duration,
    /// How many requests may come at once after a quiet spell.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `requests` per second, with bursts of `burst`.
    pub fn per_second(requests: u32, burst: u32) -> Option<RateLimit> {
        Some(RateLimit {
            requests: NonZeroU32::new(requests)?,
            per: Duration::from_secs(1),
            burst: NonZeroU32::new(burst)?,
        })
    }

    fn quota(self) -> Quota {
        let every = self.per / self.requests.get();
        Quota::with_period(every.max(Duration::from_nanos(1)))
            .expect("a positive period")
            .allow_burst(self.burst)
    }

    /// The quota of a tenant's shared bucket: [`TENANT_FACTOR`] times this one.
    fn tenant_quota(self) -> Quota {
        let times =
            |n: NonZeroU32| n.saturating_mul(NonZeroU32::new(TENANT_FACTOR).expect("non-zero"));
        RateLimit {
            requests: times(self.requests),
            burst: times(self.burst),
            ..self
        }
        .quota()
    }
}

impl Default for RateLimit {
    /// 100 requests a second, bursts of 200, per tenant key.
    fn default() -> Self {
        RateLimit::per_second(100, 200).expect("non-zero")
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            60 => "m",
            3600 => "h",
            _ => "s",
        };
        write!(f, "{}/{unit} (burst {})", self.requests, self.burst)
    }
}

/// Parses the rate part, `50/s`, `600/m` or `10000/h`, as `(requests, period)`.
pub fn parse_rate(text: &str) -> Result<(NonZeroU32, Duration), String> {
    let invalid = || format!("rate {text:?} is not N/s, N/m or N/h with N > 0 (e.g. 50/s)");
    let (count, unit) = text.split_once('/').ok_or_else(invalid)?;
    let per = match unit {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(invalid()),
    };
    let requests = u32::from_str(count.trim())
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(invalid)?;
    Ok((requests, per))
}

/// How many times a key's rate and burst all keys of one tenant together may use.
pub const TENANT_FACTOR: u32 = 4;

/// Which bucket a request found empty, and how long until it holds a token again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// The key's own bucket.
    Key(Duration),
    /// The bucket all keys of the tenant share.
    Tenant(Duration),
}

/// Which bucket refused a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

/// The limiters of one API server.
pub struct RateLimiter {
    keys: Option<DefaultKeyedRateLimiter<String>>,
    tenants: Option<DefaultKeyedRateLimiter<String>>,
    clients: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    refused: Family<LimitLabels, Counter>,
}

impl RateLimiter {
    /// Limits every tenant key, and every client address's failed authentications, to
    /// `limit`; `None` limits nothing.
    pub fn new(limit: Option<RateLimit>) -> RateLimiter {
        RateLimiter {
            keys: limit.map(|limit| governor::RateLimiter::keyed(limit.quota())),
            tenants: limit.map(|limit| governor::RateLimiter::keyed(limit.tenant_quota())),
            clients: limit.map(|limit| governor::RateLimiter::keyed(limit.quota())),
            clock: DefaultClock::default(),
            refused: Family::default(),
        }
    }

    /// Adds `minicloud_apiserver_rate_limited_total{limit}` to `metrics`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "apiserver_rate_limited",
                "Requests refused by a rate limit, by the bucket that was empty (key, tenant or client)",
                self.refused.clone(),
            );
        });
    }

    fn count_refusal(&self, limit: &'static str) {
        self.refused.get_or_create(&LimitLabels { limit }).inc();
    }

    /// Takes a token for the key `prefix` and then, only when it got one, one for its
    /// `tenant`'s shared bucket (so a key refused by its own limit does not drain its
    /// tenant's); `Err` says which was empty and how long until it holds one again.
    pub fn check_key(&self, prefix: &str, tenant: Option<&str>) -> Result<(), Over> {
        let wait = |later: governor::NotUntil<_>| later.wait_time_from(self.clock.now());
        if let Some(keys) = &self.keys {
            keys.check_key(&prefix.to_owned()).map_err(|later| {
                self.count_refusal("key");
                Over::Key(wait(later))
            })?;
        }
        if let (Some(tenants), Some(tenant)) = (&self.tenants, tenant) {
            tenants.check_key(&tenant.to_owned()).map_err(|later| {
                self.count_refusal("tenant");
                Over::Tenant(wait(later))
            })?;
        }
        Ok(())
    }

    /// Takes a token for a failed authentication from `client`.
    pub fn check_client(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(clients) = &self.clients else {
            return Ok(());
        };
        clients.check_key(&client).map_err(|later| {
            self.count_refusal("client");
            later.wait_time_from(self.clock.now())
        })
    }

    /// Forgets the callers whose buckets are full again (run now and then, so the limiter
    /// holds only recent callers).
    pub fn forget_idle(&self) {
        for limiter in self.keys.iter().chain(self.tenants.iter()) {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in self.clients.iter() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Whole seconds to wait, rounded up (a `Retry-After` header's value; at least 1).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_per_second_minute_and_hour() {
        let (requests, per) = parse_rate("50/s").unwrap();
        assert_eq!((requests.get(), per), (50, Duration::from_secs(1)));
        assert_eq!(parse_rate("600/m").unwrap().1, Duration::from_secs(60));
        for bad in ["50", "0/s", "x/s", "5/d"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_over_its_burst_waits_and_other_keys_do_not() {
        let limiter = RateLimiter::new(RateLimit::per_second(1, 3));
        for _ in 0..3 {
            assert!(limiter.check_key("mc_acme_1", Some("acme")).is_ok());
        }
        let Err(Over::Key(wait)) = limiter.check_key("mc_acme_1", Some("acme")) else {
            panic!("the key's own bucket is empty");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.check_key("mc_beta_2", Some("beta")).is_ok());
        let metrics = Metrics::default();
        limiter.register_metrics(&metrics);
        let text = metrics.encode();
        assert!(
            text.contains("minicloud_apiserver_rate_limited_total{limit=\"key\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn more_keys_do_not_buy_a_tenant_more_requests() {
        let limiter = RateLimiter::new(RateLimit::per_second(1, 3));
        let mut granted = 0;
        for key in 0..10 {
            for _ in 0..3 {
                granted += usize::from(
                    limiter
                        .check_key(&format!("mc_acme_{key}"), Some("acme"))
                        .is_ok(),
                );
            }
        }
        assert_eq!(
            granted as u32,
            3 * TENANT_FACTOR,
            "the tenant's shared burst"
        );
        assert!(matches!(
            limiter.check_key("mc_acme_new", Some("acme")),
            Err(Over::Tenant(_))
        ));
        assert!(limiter.check_key("mc_beta_1", Some("beta")).is_ok());
    }

    #[test]
    fn a_key_over_its_own_limit_leaves_its_tenants_bucket_alone() {
        let limiter = RateLimiter::new(RateLimit::per_second(1, 3));
        for _ in 0..100 {
            let _ = limiter.check_key("mc_acme_flood", Some("acme"));
        }
        for other in 0..3 {
            assert!(
                limiter
                    .check_key(&format!("mc_acme_{other}"), Some("acme"))
                    .is_ok(),
                "the flooding key took only its own 3 tokens of the tenant's 12"
            );
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
    }
}
