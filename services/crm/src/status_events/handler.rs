//! The consumer side: turns a queue message into [`record_and_apply`] and its errors into
//! ack / dead-letter / redeliver decisions.
//!
//! The shared consumer runs [`StatusEventHandler::handle`] in a CONSUMER span and records a
//! dead-lettering (with the reason returned here) on it; `record_and_apply` opens its own
//! `order.status.apply` span below it. The reasons travel in a message header, a span event and
//! a log line, so they never echo a value from the message body (see [`poison_reason`]).

use super::apply::{record_and_apply, ApplyError};
use crate::db::Db;
use crate::metrics::CrmMetrics;
use printflow_contracts::messages::{decode, DecodeError};
use printflow_contracts::OrderStatusChanged;
use printflow_faults::Faults;
use printflow_messaging::{HandleError, Handler, IncomingMessage};

/// Longest dead-letter reason; a pathological body must not make a huge header or span event.
const MAX_REASON_CHARS: usize = 300;

/// Handles `crm.order_status_changed`.
#[derive(Debug, Clone)]
pub struct StatusEventHandler {
    /// Where orders live.
    db: Db,
    /// Where applied changes and event outcomes are observed.
    metrics: CrmMetrics,
    /// Drill faults ([`crate::faults::SKIP_UPDATE`]).
    faults: Faults,
}

impl StatusEventHandler {
    /// A handler writing to `db` and observing in `metrics`, with the drill `faults`.
    pub fn new(db: Db, metrics: CrmMetrics, faults: Faults) -> Self {
        StatusEventHandler {
            db,
            metrics,
            faults,
        }
    }
}

#[async_trait::async_trait]
impl Handler for StatusEventHandler {
    async fn handle(&self, msg: &IncomingMessage) -> Result<(), HandleError> {
        // Unparseable or unknown-version messages can never succeed: dead-letter them with the
        // reason instead of redelivering them forever.
        let envelope = decode::<OrderStatusChanged>(&msg.body)
            .map_err(|e| HandleError::Poison(poison_reason(&e)))?;
        match record_and_apply(&self.db, &self.metrics, &self.faults, &envelope).await {
            Ok(_) => Ok(()),
            Err(e @ ApplyError::Database(_)) => Err(HandleError::Transient(e.to_string())),
            // Ids, sequences and a clipped source only: nothing personal to redact.
            Err(e) => Err(HandleError::Poison(e.to_string())),
        }
    }
}

/// The dead-letter reason for a message that cannot be decoded. serde's messages quote the
/// offending value (`invalid type: string "…"`, ``unknown variant `…` ``); a misrouted message
/// could carry personal data there, so values are replaced by `…` and only the shape of the
/// problem, field names and the expected alternatives are kept.
pub fn poison_reason(err: &DecodeError) -> String {
    let text = match err {
        DecodeError::Malformed(detail) => {
            format!("malformed message: {}", redact_values(detail))
        }
        DecodeError::UnsupportedVersion(_) => err.to_string(),
        DecodeError::WrongType { expected, .. } => {
            format!("unexpected message type `…`, expected `{expected}`")
        }
    };
    text.chars().take(MAX_REASON_CHARS).collect()
}

/// Replaces quoted values in a serde error message by `…`: every `"…"` string, and every
/// `` `…` `` literal except field names (after `field `) and the expected alternatives (after
/// `expected`, unless introduced by `found `).
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // Debug-formatted string: skip to the closing quote, honouring escapes.
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"…\"");
            }
            '`' => {
                let literal: String = chars.by_ref().take_while(|&c| c != '`').collect();
                let keep = out.ends_with("field ")
                    || (out.contains("expected") && !out.ends_with("found "));
                out.push('`');
                out.push_str(if keep { &literal } else { "…" });
                out.push('`');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use printflow_contracts::messages::Envelope;
    use printflow_contracts::OrderStatus;
    use uuid::Uuid;

    const SECRET: &str = "ada.lovelace@example.org";

    fn body_with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut json = Envelope::new(OrderStatusChanged {
            order_id: Uuid::now_v7(),
            sequence: 1,
            status: OrderStatus::Accepted,
            failure: None,
            detail: None,
            source: "mes".into(),
            changed_at: chrono::Utc::now(),
        })
        .to_json();
        json["data"][field] = value;
        serde_json::to_vec(&json).unwrap()
    }

    fn reason_for(body: &[u8]) -> String {
        poison_reason(&decode::<OrderStatusChanged>(body).unwrap_err())
    }

    #[test]
    fn values_from_the_body_never_reach_the_reason() {
        for (field, value) in [
            ("status", serde_json::json!(SECRET)),
            ("sequence", serde_json::json!(SECRET)),
            ("order_id", serde_json::json!(SECRET)),
            ("changed_at", serde_json::json!(SECRET)),
            ("failure", serde_json::json!(SECRET)),
        ] {
            let reason = reason_for(&body_with(field, value));
            assert!(reason.starts_with("malformed message: "), "{reason}");
            assert!(!reason.contains("ada"), "{field}: {reason}");
        }
    }

    #[test]
    fn the_shape_of_the_problem_is_kept() {
        let reason = reason_for(&body_with("status", serde_json::json!(SECRET)));
        assert!(reason.contains("unknown variant `…`"), "{reason}");
        assert!(
            reason.contains("`ACCEPTED`"),
            "expected list kept: {reason}"
        );
        let reason = reason_for(&body_with("sequence", serde_json::json!(SECRET)));
        assert!(reason.contains("invalid type: string \"…\""), "{reason}");
        let mut json: serde_json::Value =
            serde_json::from_slice(&body_with("sequence", serde_json::json!(1))).unwrap();
        json["data"].as_object_mut().unwrap().remove("sequence");
        let reason = reason_for(&serde_json::to_vec(&json).unwrap());
        assert!(reason.contains("missing field `sequence`"), "{reason}");
        assert!(reason_for(b"not json").starts_with("malformed message: expected"));
    }

    #[test]
    fn escaped_quotes_and_wrong_types_are_redacted() {
        assert_eq!(
            redact_values(r#"invalid type: string "a \"quoted\" name", expected i64"#),
            "invalid type: string \"…\", expected i64"
        );
        let mut json: serde_json::Value =
            serde_json::from_slice(&body_with("sequence", serde_json::json!(1))).unwrap();
        json["type"] = serde_json::json!(SECRET);
        let reason = reason_for(&serde_json::to_vec(&json).unwrap());
        assert!(!reason.contains("ada"), "{reason}");
        assert!(reason.starts_with("unexpected message type"), "{reason}");
        assert!(
            poison_reason(&DecodeError::Malformed("x".repeat(1000)))
                .chars()
                .count()
                <= 300
        );
    }
}
