//! The order state machine shared by CRM (system of record) and MES (which drives production).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an order is in its life. Serialised as `SCREAMING_SNAKE_CASE` (`POST_PROCESSING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Recorded by CRM, not yet taken by manufacturing.
    New,
    /// MES created a production job and queued it on a printer.
    Accepted,
    /// On a printer.
    Printing,
    /// Support removal, curing, sanding.
    PostProcessing,
    /// Waiting for or undergoing quality control.
    QualityCheck,
    /// Packed, waiting for the carrier.
    Ready,
    /// Handed to the carrier; final.
    Shipped,
    /// Production failed; a retry moves it back to `ACCEPTED`.
    Failed,
    /// Cancelled by the customer before printing started; final.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in the order of the happy path first.
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::New,
        OrderStatus::Accepted,
        OrderStatus::Printing,
        OrderStatus::PostProcessing,
        OrderStatus::QualityCheck,
        OrderStatus::Ready,
        OrderStatus::Shipped,
        OrderStatus::Failed,
        OrderStatus::Cancelled,
    ];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::Accepted => "ACCEPTED",
            OrderStatus::Printing => "PRINTING",
            OrderStatus::PostProcessing => "POST_PROCESSING",
            OrderStatus::QualityCheck => "QUALITY_CHECK",
            OrderStatus::Ready => "READY",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// No transition leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Shipped | OrderStatus::Cancelled)
    }

    /// Whether the customer may still cancel: only before a printer has started on it.
    pub fn is_cancellable(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::Accepted)
    }

    /// Whether `self -> to` is a legal step. Both CRM (to reject bad events) and MES (to refuse bad
    /// operator actions) ask this one function, so they can never disagree.
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        match (self, to) {
            (New, Accepted) | (New, Cancelled) | (New, Failed) => true,
            (Accepted, Printing) | (Accepted, Cancelled) | (Accepted, Failed) => true,
            (Printing, PostProcessing) | (Printing, Failed) => true,
            (PostProcessing, QualityCheck) | (PostProcessing, Failed) => true,
            (QualityCheck, Ready) | (QualityCheck, Failed) => true,
            (Ready, Shipped) => true,
            // An operator retry sends a failed job back to the printer queue.
            (Failed, Accepted) => true,
            _ => false,
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string that is not one of [`OrderStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Why production failed; carried on a `FAILED` status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The model file could not be fetched or is not a valid mesh.
    BadModel,
    /// The fetched model's SHA-256 differs from the one recorded with the order.
    ChecksumMismatch,
    /// The printer reported a failed print.
    PrintFailure,
    /// Quality control rejected the part.
    QcRejected,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [FailureReason; 4] = [
        FailureReason::BadModel,
        FailureReason::ChecksumMismatch,
        FailureReason::PrintFailure,
        FailureReason::QcRejected,
    ];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::BadModel => "bad_model",
            FailureReason::ChecksumMismatch => "checksum_mismatch",
            FailureReason::PrintFailure => "print_failure",
            FailureReason::QcRejected => "qc_rejected",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_legal_step_by_step() {
        let path = [
            OrderStatus::New,
            OrderStatus::Accepted,
            OrderStatus::Printing,
            OrderStatus::PostProcessing,
            OrderStatus::QualityCheck,
            OrderStatus::Ready,
            OrderStatus::Shipped,
        ];
        for pair in path.windows(2) {
            assert!(
                pair[0].can_transition_to(pair[1]),
                "{} -> {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn no_step_backwards_or_out_of_terminal_states() {
        assert!(!OrderStatus::Printing.can_transition_to(OrderStatus::Accepted));
        assert!(!OrderStatus::Shipped.can_transition_to(OrderStatus::Failed));
        for to in OrderStatus::ALL {
            assert!(!OrderStatus::Shipped.can_transition_to(to));
            assert!(!OrderStatus::Cancelled.can_transition_to(to));
        }
        assert!(!OrderStatus::Printing.can_transition_to(OrderStatus::Cancelled));
    }

    #[test]
    fn status_round_trips_through_text_and_json() {
        for st in OrderStatus::ALL {
            assert_eq!(st.as_str().parse::<OrderStatus>().unwrap(), st);
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert!("SHIPPING".parse::<OrderStatus>().is_err());
    }
}
