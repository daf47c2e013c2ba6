//! The simulated farm's physics: how long each phase lasts and how often things go wrong.

use chrono::{DateTime, TimeDelta, Utc};
use printflow_contracts::OrderStatus;
use rand::Rng;
use std::str::FromStr;

/// Who decides the outcome of quality control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QcMode {
    /// The scheduler passes or rejects (at `qc_reject_rate`) when the QC phase is over.
    Auto,
    /// Jobs wait in `QUALITY_CHECK` until an operator posts a pass or fail.
    Manual,
}

impl FromStr for QcMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(QcMode::Auto),
            "manual" => Ok(QcMode::Manual),
            _ => Err("expected `auto` or `manual`".to_owned()),
        }
    }
}

/// Phase durations (simulated seconds), the simulation speed and the failure probabilities.
#[derive(Debug, Clone)]
pub struct Production {
    /// Real seconds per simulated second (`0.0001` turns an hour into 0.36 s).
    pub time_scale: f64,
    /// Support removal and curing, per job.
    pub post_processing_seconds: u64,
    /// Inspection, per job.
    pub quality_check_seconds: u64,
    /// Packing before the carrier takes it, per job.
    pub shipping_prep_seconds: u64,
    /// Probability (0..=1) that a finished print turns out failed.
    pub print_failure_rate: f64,
    /// Probability (0..=1) that automatic QC rejects the part.
    pub qc_reject_rate: f64,
    /// Automatic or operator QC.
    pub qc_mode: QcMode,
}

/// Longest phase we schedule; keeps timestamp arithmetic far from overflow.
const MAX_PHASE: TimeDelta = TimeDelta::days(3650);

impl Production {
    /// Simulated length of the phase `status` for a job of `quantity` parts that take
    /// `estimated_print_seconds` each, or `None` for states that do not end by themselves.
    pub fn simulated_seconds(
        &self,
        status: OrderStatus,
        estimated_print_seconds: i64,
        quantity: i32,
    ) -> Option<f64> {
        match status {
            OrderStatus::Printing => {
                Some(estimated_print_seconds.max(0) as f64 * f64::from(quantity.max(1)))
            }
            OrderStatus::PostProcessing => Some(self.post_processing_seconds as f64),
            OrderStatus::QualityCheck => Some(self.quality_check_seconds as f64),
            OrderStatus::Ready => Some(self.shipping_prep_seconds as f64),
            _ => None,
        }
    }

    /// When a phase entered at `now` is over, in real time.
    pub fn phase_ends_at(
        &self,
        status: OrderStatus,
        estimated_print_seconds: i64,
        quantity: i32,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let simulated = self.simulated_seconds(status, estimated_print_seconds, quantity)?;
        let real_micros =
            (simulated * self.time_scale * 1e6).min(MAX_PHASE.num_microseconds()? as f64);
        Some(now + TimeDelta::microseconds(real_micros.max(0.0) as i64))
    }

    /// Whether a finished print failed (a dice roll at `print_failure_rate`).
    pub fn roll_print_failure(&self) -> bool {
        rand::rng().random_bool(self.print_failure_rate)
    }

    /// Whether automatic QC rejects the part (a dice roll at `qc_reject_rate`).
    pub fn roll_qc_reject(&self) -> bool {
        rand::rng().random_bool(self.qc_reject_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn farm(scale: f64) -> Production {
        Production {
            time_scale: scale,
            post_processing_seconds: 1_800,
            quality_check_seconds: 600,
            shipping_prep_seconds: 1_200,
            print_failure_rate: 0.0,
            qc_reject_rate: 1.0,
            qc_mode: QcMode::Auto,
        }
    }

    #[test]
    fn printing_scales_with_quantity_and_time_scale() {
        let now = Utc::now();
        let ends = farm(0.001)
            .phase_ends_at(OrderStatus::Printing, 3_600, 3, now)
            .unwrap();
        // 3 parts x 3600 s x 0.001 = 10.8 s.
        assert_eq!(ends - now, TimeDelta::milliseconds(10_800));
    }

    #[test]
    fn each_timed_phase_uses_its_setting() {
        let p = farm(1.0);
        assert_eq!(
            p.simulated_seconds(OrderStatus::PostProcessing, 9, 9),
            Some(1_800.0)
        );
        assert_eq!(
            p.simulated_seconds(OrderStatus::QualityCheck, 9, 9),
            Some(600.0)
        );
        assert_eq!(p.simulated_seconds(OrderStatus::Ready, 9, 9), Some(1_200.0));
        for untimed in [
            OrderStatus::Accepted,
            OrderStatus::Shipped,
            OrderStatus::Failed,
        ] {
            assert_eq!(p.phase_ends_at(untimed, 9, 9, Utc::now()), None);
        }
    }

    #[test]
    fn zero_scale_ends_immediately_and_huge_values_do_not_overflow() {
        let now = Utc::now();
        assert_eq!(
            farm(0.0).phase_ends_at(OrderStatus::Ready, 0, 1, now),
            Some(now)
        );
        let far = farm(1e9).phase_ends_at(OrderStatus::Printing, i64::MAX, i32::MAX, now);
        assert_eq!(far, Some(now + MAX_PHASE));
    }

    #[test]
    fn certain_outcomes_are_certain() {
        let p = farm(1.0);
        assert!(!p.roll_print_failure());
        assert!(p.roll_qc_reject());
    }

    #[test]
    fn qc_mode_parses_case_insensitively() {
        assert_eq!("Manual".parse::<QcMode>().unwrap(), QcMode::Manual);
        assert_eq!("auto".parse::<QcMode>().unwrap(), QcMode::Auto);
        assert!("both".parse::<QcMode>().is_err());
    }
}
