//! What a request or a journey can end in, beyond plain success.
//!
//! Nothing here may carry personal data: failures are logged, and the synthetic customers we
//! send are still customers as far as CRM is concerned. So a failure names the endpoint
//! template, the HTTP status and the error `code`/`field`, never the error `message` (which may
//! echo what was sent) or a request body.

use std::fmt;

/// An outcome we did not ask for. These are what `--once` fails on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// Shop answered 5xx.
    ServerError,
    /// No answer within the request timeout: how a "hang" (seed points 1 and 8) looks from
    /// the customer's side.
    Timeout,
    /// Connection refused or reset, or a body that could not be read.
    Transport,
    /// An answer whose body does not match the contract.
    BadShape,
    /// A 4xx for a request built to be valid.
    UnexpectedRejection,
    /// A request built to be invalid was accepted (and not refused further on either).
    InvalidAccepted,
    /// A well-formed answer that contradicts the request: results outside the filters, wrong
    /// order, or a status for another order than the one asked for.
    WrongResult,
    /// An order's `status_version` went backwards between two polls (seed point 4: an
    /// incorrect status returned).
    StatusRegressed,
    /// The catalog holds no product at all, so designs and orders cannot be exercised.
    EmptyCatalog,
}

impl FailureKind {
    /// Every kind, in the order the summary prints them.
    pub const ALL: [FailureKind; 9] = [
        FailureKind::ServerError,
        FailureKind::Timeout,
        FailureKind::Transport,
        FailureKind::BadShape,
        FailureKind::UnexpectedRejection,
        FailureKind::InvalidAccepted,
        FailureKind::WrongResult,
        FailureKind::StatusRegressed,
        FailureKind::EmptyCatalog,
    ];

    /// Short name used in logs and the summary line.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ServerError => "server_error",
            FailureKind::Timeout => "timeout",
            FailureKind::Transport => "transport",
            FailureKind::BadShape => "bad_shape",
            FailureKind::UnexpectedRejection => "unexpected_4xx",
            FailureKind::InvalidAccepted => "invalid_accepted",
            FailureKind::WrongResult => "wrong_result",
            FailureKind::StatusRegressed => "status_regressed",
            FailureKind::EmptyCatalog => "empty_catalog",
        }
    }
}

/// One unexpected outcome; it ends the journey it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// Endpoint template, e.g. `POST /designs/{id}/edits` (ids left out so failures group).
    pub endpoint: &'static str,
    /// HTTP status, when Shop answered.
    pub status: Option<u16>,
    /// Free-text detail built by this tool from codes and field names only (see module doc).
    pub detail: String,
}

impl Failure {
    /// A failure without an HTTP status.
    pub fn new(kind: FailureKind, endpoint: &'static str, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            endpoint,
            status: None,
            detail: detail.into(),
        }
    }

    /// Adds the HTTP status Shop answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.kind.as_str(), self.endpoint)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A 4xx answer in the shared error shape `{code, message, field}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// Machine-readable code such as `validation_failed` or `design_invalid`.
    pub code: String,
    /// The request field Shop blamed, if any.
    pub field: Option<String>,
}

impl Rejection {
    /// Whether this is how Shop refuses a request we built to be invalid: 400 (cannot be
    /// understood) or 422 (understood, value not acceptable). A 404 or 409 there would mean
    /// the request went wrong for another reason than the one we meant to exercise.
    pub fn is_validation(&self) -> bool {
        matches!(self.status, 400 | 422)
    }

    /// Turns a rejection of a request built to be valid into a failure.
    pub fn unexpected(&self, endpoint: &'static str) -> Failure {
        let mut detail = format!("code {}", self.code);
        if let Some(field) = &self.field {
            detail.push_str(&format!(", field {field}"));
        }
        Failure::new(FailureKind::UnexpectedRejection, endpoint, detail).with_status(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_text_names_kind_endpoint_status_and_detail() {
        let failure = Failure::new(
            FailureKind::ServerError,
            "POST /orders",
            "code internal_error",
        )
        .with_status(500);
        assert_eq!(
            failure.to_string(),
            "server_error on POST /orders (HTTP 500): code internal_error"
        );
    }

    #[test]
    fn only_400_and_422_count_as_validation_rejections() {
        let rejection = |status| Rejection {
            status,
            code: "x".into(),
            field: Some("value".into()),
        };
        assert!(rejection(422).is_validation());
        assert!(rejection(400).is_validation());
        assert!(!rejection(404).is_validation());
        assert!(!rejection(409).is_validation());
        let failure = rejection(404).unexpected("GET /orders/{id}");
        assert_eq!(failure.kind, FailureKind::UnexpectedRejection);
        assert_eq!(failure.status, Some(404));
        assert!(failure.detail.contains("field value"), "{}", failure.detail);
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let mut names: Vec<_> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FailureKind::ALL.len());
    }
}
