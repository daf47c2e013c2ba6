//! How long an order may stay in each status before it counts as overdue (`CRM_STATUS_LIMITS`).
//!
//! The limits feed `printflow_order_status_limit_seconds`, `printflow_orders_overdue` and
//! `printflow_order_overdue_age_seconds` (see [`crate::metrics`]); the alert "an order has stayed
//! in a status longer than that status's limit" is written against them, so the limit lives in
//! one place, here, and the alert rules read it from the metrics.
//!
//! Format: comma-separated `STATUS=SECONDS` pairs, e.g.
//! `NEW=60,ACCEPTED=600,PRINTING=7200,POST_PROCESSING=3600,QUALITY_CHECK=1800,READY=3600`.
//! Seconds are positive numbers (fractions allowed, at most 30 days). Statuses the variable does
//! not name keep their production default ([`DEFAULT_LIMITS`]). `FAILED` has no default but may
//! be given one; the terminal statuses (`SHIPPED`, `CANCELLED`) never have a limit.

use printflow_contracts::OrderStatus;
use std::collections::BTreeMap;
use std::time::Duration;

/// Production defaults, in seconds: 5 min to be taken by MES, 30 min to start printing, 2 days
/// of printing, 2 h of post-processing, 1 h of quality control, 1 day to be picked up.
pub const DEFAULT_LIMITS: [(OrderStatus, u64); 6] = [
    (OrderStatus::New, 300),
    (OrderStatus::Accepted, 1_800),
    (OrderStatus::Printing, 172_800),
    (OrderStatus::PostProcessing, 7_200),
    (OrderStatus::QualityCheck, 3_600),
    (OrderStatus::Ready, 86_400),
];

/// The longest limit accepted: anything longer is surely a typo (minutes for seconds…).
const MAX_LIMIT_SECONDS: f64 = 30.0 * 86_400.0;

/// The limit of each status that has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLimits(BTreeMap<OrderStatus, Duration>);

impl Default for StatusLimits {
    fn default() -> Self {
        StatusLimits(
            DEFAULT_LIMITS
                .into_iter()
                .map(|(status, secs)| (status, Duration::from_secs(secs)))
                .collect(),
        )
    }
}

impl StatusLimits {
    /// The defaults with the limits named in `text` (the `CRM_STATUS_LIMITS` format) replacing
    /// theirs. The error says which entry is wrong and why.
    pub fn parse(text: &str) -> Result<StatusLimits, String> {
        let mut limits = StatusLimits::default();
        let mut seen = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` is not STATUS=SECONDS"))?;
            let (name, value) = (name.trim(), value.trim());
            let status: OrderStatus = name.parse().map_err(|_| {
                let known: Vec<&str> = OrderStatus::ALL
                    .iter()
                    .filter(|s| !s.is_terminal())
                    .map(|s| s.as_str())
                    .collect();
                format!(
                    "unknown status `{name}`; statuses with limits: {}",
                    known.join(", ")
                )
            })?;
            if status.is_terminal() {
                return Err(format!(
                    "{status} is final: an order cannot be overdue in it, so it has no limit"
                ));
            }
            if seen.contains(&status) {
                return Err(format!("{status} is given twice"));
            }
            seen.push(status);
            let seconds: f64 = value
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= MAX_LIMIT_SECONDS)
                .ok_or_else(|| {
                    format!(
                        "the limit of {status} must be a number of seconds above 0 and at most {MAX_LIMIT_SECONDS}, got `{value}`"
                    )
                })?;
            limits.0.insert(status, Duration::from_secs_f64(seconds));
        }
        Ok(limits)
    }

    /// `status`'s limit, if it has one.
    pub fn get(&self, status: OrderStatus) -> Option<Duration> {
        self.0.get(&status).copied()
    }

    /// Every `(status, limit)`, in status order.
    pub fn iter(&self) -> impl Iterator<Item = (OrderStatus, Duration)> + '_ {
        self.0.iter().map(|(s, d)| (*s, *d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_every_waiting_status() {
        let limits = StatusLimits::default();
        assert_eq!(limits.get(OrderStatus::New), Some(Duration::from_secs(300)));
        assert_eq!(
            limits.get(OrderStatus::Printing),
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(
            limits.get(OrderStatus::Ready),
            Some(Duration::from_secs(86_400))
        );
        for status in [
            OrderStatus::Shipped,
            OrderStatus::Cancelled,
            OrderStatus::Failed,
        ] {
            assert_eq!(limits.get(status), None, "{status}");
        }
        assert_eq!(StatusLimits::parse("").unwrap(), limits);
    }

    #[test]
    fn named_statuses_replace_their_default_others_keep_it() {
        let limits = StatusLimits::parse(" new = 1, PRINTING=0.5 ,FAILED=600,").unwrap();
        assert_eq!(limits.get(OrderStatus::New), Some(Duration::from_secs(1)));
        assert_eq!(
            limits.get(OrderStatus::Printing),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            limits.get(OrderStatus::Failed),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            limits.get(OrderStatus::Accepted),
            Some(Duration::from_secs(1_800))
        );
        assert_eq!(limits.iter().count(), 7);
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for (text, says) in [
            ("SHIPPING=60", "unknown status `SHIPPING`"),
            ("SHIPPED=60", "SHIPPED is final"),
            ("CANCELLED=60", "CANCELLED is final"),
            ("NEW", "not STATUS=SECONDS"),
            ("NEW=soon", "got `soon`"),
            ("NEW=0", "above 0"),
            ("NEW=-5", "above 0"),
            ("NEW=inf", "above 0"),
            ("NEW=NaN", "above 0"),
            ("NEW=99999999", "at most"),
            ("NEW=60,new=30", "NEW is given twice"),
        ] {
            let err = StatusLimits::parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
