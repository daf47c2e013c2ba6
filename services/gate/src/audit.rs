//! The audit trail of trace data access: one JSON line per query (who, with which view, what was
//! asked, what came back and what was hidden), appended to `GATE_AUDIT_LOG` (default: standard
//! error, next to the service log), and `gate_trace_reads_total`.
//!
//! A file of its own rather than the service log: an auditor reads it whole, with a stable shape,
//! whatever `RUST_LOG` and `LOG_FORMAT` say.

use crate::metrics::GateMetrics;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One access, as written.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// RFC 3339 UTC time of the answer.
    pub time: String,
    /// The caller's `sub`.
    pub subject: &'a str,
    /// The caller's `preferred_username`, when the token has one.
    pub username: Option<&'a str>,
    /// The client the token was issued to.
    pub client: Option<&'a str>,
    /// The policy rules applied (`sre`, `support+production`), `none` when refused.
    pub view: &'a str,
    /// The endpoint kind (`traces`, `trace`, `services`, ...).
    pub endpoint: &'static str,
    /// Path and query as asked.
    pub request: &'a str,
    /// `ok`, `not_found`, `forbidden` or `store_unavailable`.
    pub outcome: &'static str,
    /// Traces returned.
    pub traces: usize,
    /// Spans returned.
    pub spans: usize,
    /// Spans removed by the view.
    pub hidden_spans: usize,
    /// Attribute values removed by the view.
    pub hidden_attributes: usize,
}

/// Where entries go. Cheap to clone.
#[derive(Clone)]
pub struct Audit {
    /// The open sink; a std mutex, held only for one small write.
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    /// `gate_trace_reads_total`.
    metrics: GateMetrics,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

impl Audit {
    /// Appends to `path`, or writes to standard error when `None`.
    pub fn open(path: Option<&Path>, metrics: GateMetrics) -> std::io::Result<Audit> {
        let sink: Box<dyn Write + Send> = match path {
            Some(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
            None => Box::new(std::io::stderr()),
        };
        Ok(Audit {
            sink: Arc::new(Mutex::new(sink)),
            metrics,
        })
    }

    /// Records one access.
    pub fn record(&self, entry: &Entry<'_>) {
        self.metrics.read(entry.view, entry.endpoint, entry.outcome);
        let mut line = match serde_json::to_vec(entry) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "an audit entry could not be encoded");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // One write of the whole line, so concurrent entries never interleave.
        if let Err(e) = sink.write_all(&line).and_then(|()| sink.flush()) {
            tracing::error!(error = %e, "an audit entry could not be written");
        }
    }
}
