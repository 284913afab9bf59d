//! Delivering alerts: a bounded queue in front of the deliveries, so a reconcile never waits on
//! a webhook; each delivery POSTs the signed body and retries with exponential backoff
//! ([`RETRY_DELAYS`]) until the receiver answers 2xx or the attempts run out. What came of it
//! is handed to a [`Finish`] callback (which records it in the Instance's status).

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc};

use super::signature::{SIGNATURE_HEADER, sign};
use crate::object::ObjectKey;

/// Alerts waiting to be delivered at most; more are given up at once.
pub const QUEUE_LEN: usize = 256;
/// Deliveries in flight at once, so one slow receiver does not hold up the others.
const IN_FLIGHT: usize = 8;
/// The waits before each retry: five attempts over about 15 seconds.
pub const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One POST to make.
#[derive(Clone)]
pub struct Job {
    /// Tells deliveries apart (the alert's id); a job already queued or in flight is not
    /// queued again.
    pub id: String,
    /// Where to POST.
    pub url: String,
    /// The signing key; never logged.
    pub key: Vec<u8>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The Instance the alert is about, and the time of the condition's move it tells of.
    pub about: (ObjectKey, String),
}

/// What came of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// A 2xx answer, on this attempt (from 1).
    Accepted {
        /// The attempt that was accepted.
        attempt: usize,
    },
    /// Every attempt failed, or the queue was full.
    GaveUp {
        /// Attempts made.
        attempts: usize,
        /// Why the last one failed.
        error: String,
    },
}

/// Sends one request; HTTP in production, scripted in tests.
#[async_trait]
pub trait Poster: Send + Sync + 'static {
    /// POSTs `body` to `url` with `headers`; the HTTP status, or why there is none.
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String>;
}

/// The HTTP poster.
pub struct HttpPoster {
    client: reqwest::Client,
}

impl HttpPoster {
    /// A poster with its own connection pool.
    pub fn new() -> HttpPoster {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent("minicloud-alerts")
            .build()
            .unwrap_or_default();
        HttpPoster { client }
    }
}

#[async_trait]
impl Poster for HttpPoster {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) if error.is_timeout() => {
                Err(format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()))
            }
            Err(error) if error.is_connect() => Err("cannot connect".to_owned()),
            Err(_) => Err("the request failed".to_owned()),
        }
    }
}

/// Delivers `job` through `poster`, retrying after each of `delays`.
pub async fn deliver(poster: &dyn Poster, job: &Job, delays: &[Duration]) -> Delivered {
    let headers = [
        ("content-type", "application/json".to_owned()),
        (SIGNATURE_HEADER, sign(&job.key, &job.body)),
        ("x-minicloud-delivery", job.id.clone()),
    ];
    let mut error = String::new();
    for attempt in 1..=delays.len() + 1 {
        if attempt > 1 {
            tokio::time::sleep(delays[attempt - 2]).await;
        }
        match poster.post(&job.url, &headers, job.body.clone()).await {
            Ok(code) if (200..300).contains(&code) => return Delivered::Accepted { attempt },
            Ok(code) => error = format!("HTTP {code}"),
            Err(why) => error = why,
        }
        tracing::info!(delivery = %job.id, attempt, %error, "alert webhook delivery failed");
    }
    Delivered::GaveUp {
        attempts: delays.len() + 1,
        error,
    }
}

/// Called with each job and what came of it.
pub type Finish = Arc<dyn Fn(Job, Delivered) -> BoxFuture<'static, ()> + Send + Sync>;

/// The queue in front of the deliveries; cheap to clone.
#[derive(Clone)]
pub struct Deliveries {
    sender: mpsc::Sender<Job>,
    pending: Arc<Mutex<HashSet<String>>>,
    finish: Finish,
}

impl Deliveries {
    /// Starts delivering through `poster` with `delays` between attempts, calling `finish`
    /// after each. Must be called within a tokio runtime.
    pub fn spawn(poster: Arc<dyn Poster>, delays: Vec<Duration>, finish: Finish) -> Deliveries {
        let (sender, mut receiver) = mpsc::channel::<Job>(QUEUE_LEN);
        let pending = Arc::new(Mutex::new(HashSet::new()));
        let deliveries = Deliveries {
            sender,
            pending,
            finish,
        };
        let worker = deliveries.clone();
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        tokio::spawn(async move {
            while let Some(job) = receiver.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (worker, poster, delays) = (worker.clone(), poster.clone(), delays.clone());
                tokio::spawn(async move {
                    let delivered = deliver(poster.as_ref(), &job, &delays).await;
                    worker.finished(job, delivered).await;
                    drop(slot);
                });
            }
        });
        deliveries
    }

    /// Queues `job` unless it is already queued or in flight; a full queue gives it up at
    /// once (the finish callback hears of it). Never waits.
    pub fn send(&self, job: Job) {
        if !self.lock().insert(job.id.clone()) {
            return;
        }
        if let Err(refused) = self.sender.try_send(job) {
            let job = refused.into_inner();
            let this = self.clone();
            tokio::spawn(async move {
                let error = format!("more than {QUEUE_LEN} alerts were waiting");
                let gave_up = Delivered::GaveUp { attempts: 0, error };
                this.finished(job, gave_up).await;
            });
        }
    }

    /// Whether a job with `id` is queued or in flight.
    pub fn is_pending(&self, id: &str) -> bool {
        self.lock().contains(id)
    }

    async fn finished(&self, job: Job, delivered: Delivered) {
        let id = job.id.clone();
        (self.finish)(job, delivered).await;
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `scheme://host[:port]` of `url`, for messages: the path or query may carry a token.
pub fn origin(url: &str) -> impl Display + '_ {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    /// Answers with the scripted codes in turn (the last one for ever), recording when and
    /// with which signature it was called.
    struct Scripted {
        answers: Mutex<Vec<Result<u16, String>>>,
        calls: Mutex<Vec<(Instant, String)>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<u16, String>>) -> Arc<Scripted> {
            Arc::new(Scripted {
                answers: Mutex::new(answers),
                calls: Mutex::new(Vec::new()),
            })
        }
    }

    #[async_trait]
    impl Poster for Scripted {
        async fn post(
            &self,
            _url: &str,
            headers: &[(&str, String)],
            _body: Vec<u8>,
        ) -> Result<u16, String> {
            let signature = headers.iter().find(|(n, _)| *n == SIGNATURE_HEADER);
            let signature = signature.map(|(_, v)| v.clone()).unwrap_or_default();
            self.calls.lock().unwrap().push((Instant::now(), signature));
            let mut answers = self.answers.lock().unwrap();
            match answers.len() {
                1 => answers[0].clone(),
                _ => answers.remove(0),
            }
        }
    }

    fn job() -> Job {
        Job {
            id: "u1/t1".into(),
            url: "http://127.0.0.1:1/hook".into(),
            key: b"k".to_vec(),
            body: b"{}".to_vec(),
            about: (ObjectKey::new(Some("acme"), "web-x1"), "t1".into()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_delivery_is_retried_with_doubling_delays_until_accepted() {
        let poster = Scripted::new(vec![Ok(500), Err("cannot connect".into()), Ok(204)]);
        let start = Instant::now();
        let delivered = deliver(poster.as_ref(), &job(), &RETRY_DELAYS).await;
        assert_eq!(delivered, Delivered::Accepted { attempt: 3 });
        let calls = poster.calls.lock().unwrap();
        let at: Vec<u64> = calls.iter().map(|(t, _)| (*t - start).as_secs()).collect();
        assert_eq!(at, [0, 1, 3]);
        assert!(calls.iter().all(|(_, s)| *s == sign(b"k", b"{}")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delivery_that_keeps_failing_is_given_up_with_the_last_error() {
        let poster = Scripted::new(vec![Ok(503)]);
        let delivered = deliver(poster.as_ref(), &job(), &RETRY_DELAYS).await;
        let error = "HTTP 503".to_owned();
        assert_eq!(delivered, Delivered::GaveUp { attempts: 5, error });
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_job_is_not_queued_twice_and_each_end_is_reported() {
        let poster = Scripted::new(vec![Ok(200)]);
        let (tx, mut ended) = mpsc::unbounded_channel();
        let finish: Finish = Arc::new(move |job, delivered| {
            let tx = tx.clone();
            Box::pin(async move { drop(tx.send((job.id, delivered))) })
        });
        let deliveries = Deliveries::spawn(poster.clone(), RETRY_DELAYS.to_vec(), finish);
        deliveries.send(job());
        deliveries.send(job());
        assert!(deliveries.is_pending("u1/t1"));
        let (id, delivered) = ended.recv().await.unwrap();
        assert_eq!(
            (id.as_str(), delivered),
            ("u1/t1", Delivered::Accepted { attempt: 1 })
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!deliveries.is_pending("u1/t1"));
        assert_eq!(poster.calls.lock().unwrap().len(), 1);
    }

    #[test]
    fn messages_name_the_origin_only() {
        let url = "https://user:pw@hooks.example.com:8443/a/b?token=t";
        assert_eq!(origin(url).to_string(), "https://hooks.example.com:8443");
    }
}
