//! The bounded buffer between an accepted batch and Jaeger: the gate answers a writer as soon as
//! its batch is buffered, and workers send it on, retrying while Jaeger is slow or down.
//!
//! Why accept before storing: an exporter's own retry is short and its queue small, so a Jaeger
//! restart would otherwise lose spans in every service at once. Here they wait, up to
//! `GATE_BUFFER_SPANS` (counting the batches being sent). A batch that does not fit is not
//! accepted: the writer is told to retry later (HTTP 503 with `Retry-After`, gRPC
//! `UNAVAILABLE`), which OTLP exporters do, so an overloaded or absent Jaeger pushes back on the
//! services instead of losing what the gate already accepted. Accepted spans are lost only if
//! Jaeger refuses them as invalid or the gate stops before Jaeger takes them; each one is
//! counted in `gate_spans_dropped_total`, which the `GateSpansDropped` alert watches.

use crate::metrics::GateMetrics;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// OTLP/HTTP's binary encoding.
pub const PROTOBUF: &str = "application/x-protobuf";
/// First wait after a failed send; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between retries of one worker.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a stopping gate keeps sending what is buffered.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// An accepted, encoded OTLP batch on its way to Jaeger.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `ExportTraceServiceRequest`, protobuf-encoded (after redaction).
    pub body: Bytes,
    /// How many spans it holds.
    pub spans: u64,
}

/// The buffer and its workers' shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Forwarder {
    /// Shared state.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Waiting batches, oldest first. A std mutex: it is never held across an `.await`.
    queue: Mutex<Queue>,
    /// Wakes an idle worker when a batch arrives.
    arrived: Notify,
    /// Client for Jaeger, with the send deadline.
    http: reqwest::Client,
    /// Jaeger's OTLP/HTTP traces endpoint.
    url: String,
    /// Most spans held at once.
    capacity: u64,
    /// Where buffered, stored, retried and dropped spans are counted.
    metrics: GateMetrics,
}

#[derive(Debug, Default)]
struct Queue {
    /// The batches waiting to be sent.
    batches: VecDeque<Batch>,
    /// Accepted spans not yet stored: those waiting plus those being sent.
    spans: u64,
    /// Set once the drain at shutdown is over: later batches are counted as dropped.
    closed: bool,
}

/// The buffer has no room for a batch: retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// What a send to Jaeger came to.
enum Sent {
    /// Stored.
    Stored,
    /// Jaeger refused it as invalid: sending it again would not help.
    Refused(String),
    /// Jaeger was unreachable, overloaded or failing: try again.
    Retry(String),
}

impl Forwarder {
    /// A forwarder to Jaeger's `url` holding at most `capacity` spans.
    pub fn new(
        http: reqwest::Client,
        url: String,
        capacity: u64,
        metrics: GateMetrics,
    ) -> Forwarder {
        Forwarder {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::default()),
                arrived: Notify::new(),
                http,
                url,
                capacity,
                metrics,
            }),
        }
    }

    /// Whether a batch of `spans` would be taken now.
    pub fn has_room(&self, spans: u64) -> bool {
        let queue = self.lock();
        !queue.closed && (queue.spans == 0 || queue.spans + spans <= self.inner.capacity)
    }

    /// Buffers a batch, or gives it back when it does not fit (the buffer is full, or the gate
    /// is stopping): the caller then refuses it as "retry later". A batch larger than the whole
    /// buffer is taken when the buffer is empty (it is bounded by the body limit).
    pub fn push(&self, batch: Batch) -> Result<(), Full> {
        {
            let mut queue = self.lock();
            let fits = queue.spans == 0 || queue.spans + batch.spans <= self.inner.capacity;
            if queue.closed || !fits {
                return Err(Full);
            }
            queue.spans += batch.spans;
            queue.batches.push_back(batch);
            self.inner.metrics.buffered(queue.spans);
        }
        self.inner.arrived.notify_one();
        Ok(())
    }

    /// Runs `workers` senders until `stop`, then sends what is left for a few seconds; whatever
    /// is still buffered after that is counted as dropped.
    pub async fn run(self, workers: usize, stop: CancellationToken) {
        let handles: Vec<_> = (0..workers)
            .map(|_| tokio::spawn(self.clone().work(stop.clone())))
            .collect();
        for handle in handles {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "a forwarding worker panicked");
            }
        }
        self.drain().await;
    }

    /// One worker: takes the oldest batch and sends it; on a retryable failure puts it back in
    /// front and waits, longer after each failure in a row.
    async fn work(self, stop: CancellationToken) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Some(batch) = self.pop() else {
                tokio::select! {
                    () = self.inner.arrived.notified() => continue,
                    () = stop.cancelled() => return,
                }
            };
            match self.send(&batch).await {
                Sent::Stored => {
                    self.done(&batch);
                    self.inner.metrics.stored(batch.spans);
                    backoff = FIRST_BACKOFF;
                }
                Sent::Refused(detail) => {
                    tracing::warn!(%detail, spans = batch.spans, "Jaeger refused a trace batch; dropped");
                    self.done(&batch);
                    self.inner.metrics.dropped("rejected_by_store", batch.spans);
                }
                Sent::Retry(detail) => {
                    tracing::warn!(%detail, retry_in_ms = backoff.as_millis() as u64, "Jaeger did not take a trace batch; retrying");
                    self.inner.metrics.retry();
                    self.unpop(batch);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stop.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// At shutdown: one more attempt per buffered batch within [`DRAIN_DEADLINE`].
    async fn drain(&self) {
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            while let Some(batch) = self.pop() {
                self.done(&batch);
                match self.send(&batch).await {
                    Sent::Stored => self.inner.metrics.stored(batch.spans),
                    Sent::Refused(_) | Sent::Retry(_) => {
                        self.inner.metrics.dropped("shutdown", batch.spans);
                    }
                }
            }
        })
        .await;
        let mut queue = self.lock();
        queue.closed = true;
        let left = std::mem::take(&mut queue.batches);
        queue.spans = 0;
        drop(queue);
        self.inner.metrics.buffered(0);
        let lost: u64 = left.iter().map(|b| b.spans).sum();
        if drained.is_err() || lost > 0 {
            tracing::warn!(
                spans = lost,
                "trace batches still buffered at shutdown were dropped"
            );
            self.inner.metrics.dropped("shutdown", lost);
        }
    }

    async fn send(&self, batch: &Batch) -> Sent {
        let sent = self
            .inner
            .http
            .post(&self.inner.url)
            .header(reqwest::header::CONTENT_TYPE, PROTOBUF)
            .body(batch.body.clone())
            .send()
            .await;
        match sent {
            Err(e) => Sent::Retry(e.to_string()),
            Ok(resp) if resp.status().is_success() => Sent::Stored,
            // OTLP/HTTP: 429, 502, 503 and 504 are retryable; other 4xx mean the data is bad.
            Ok(resp) if resp.status().is_client_error() && resp.status().as_u16() != 429 => {
                Sent::Refused(format!("Jaeger answered {}", resp.status()))
            }
            Ok(resp) => Sent::Retry(format!("Jaeger answered {}", resp.status())),
        }
    }

    /// Takes the oldest waiting batch to send; its spans still count as buffered until
    /// [`Forwarder::done`].
    fn pop(&self) -> Option<Batch> {
        self.lock().batches.pop_front()
    }

    /// Puts a batch whose send failed back in front: it is the oldest.
    fn unpop(&self, batch: Batch) {
        self.lock().batches.push_front(batch);
    }

    /// A taken batch is stored or given up: its spans leave the buffer.
    fn done(&self, batch: &Batch) {
        let mut queue = self.lock();
        queue.spans = queue.spans.saturating_sub(batch.spans);
        self.inner.metrics.buffered(queue.spans);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves the queue consistent (every update
        // is a few field writes), so keep going with it.
        self.inner.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}
