//! [`Faults`]: the faults a service can simulate, which of them are armed, and the hit check.

use chrono::{DateTime, Utc};
use printflow_metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault a service can simulate, declared once by the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSpec {
    /// Its name in the API and the metrics (`catalog.search.slow`).
    pub name: &'static str,
    /// What happens while it is armed, and which failure point it simulates.
    pub effect: &'static str,
    /// Whether it takes `delay_ms` (a stall), which is then required.
    pub takes_delay: bool,
}

/// How long a fault stays armed: for `seconds`, for `count` hits, or whichever ends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arming {
    /// Disarms after this many seconds (1..=3600).
    pub seconds: Option<u32>,
    /// Disarms after this many hits (1..=10000).
    pub count: Option<u32>,
    /// The stall, for a fault that takes one (1..=60000 ms).
    pub delay_ms: Option<u32>,
}

/// What a hit tells the failing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// How long to stall (zero for a fault without a delay).
    pub delay: Duration,
}

/// A fault as `GET /admin/faults` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultView {
    /// The fault's name.
    pub name: String,
    /// What it does.
    pub effect: String,
    /// Whether arming it needs `delay_ms`.
    pub takes_delay: bool,
    /// Whether it is armed now.
    pub active: bool,
    /// When it disarms by time, if armed with `seconds`.
    pub expires_at: Option<DateTime<Utc>>,
    /// Hits left, if armed with `count`.
    pub remaining: Option<u32>,
    /// The stall of each hit, if it takes one.
    pub delay_ms: Option<u32>,
    /// Who armed it (the token's `preferred_username`, else its subject).
    pub armed_by: Option<String>,
    /// When it was armed.
    pub armed_at: Option<DateTime<Utc>>,
    /// Hits since the process started.
    pub hits: u64,
}

/// Why arming was refused (each maps to a 4xx in [`crate::routes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmError {
    /// Fault injection is off in this process.
    Disabled,
    /// No fault of that name here.
    Unknown(String),
    /// The arming is not acceptable: which field, and why.
    Invalid(&'static str, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FaultLabel {
    fault: String,
}

/// One armed fault.
#[derive(Debug, Clone)]
struct Armed {
    /// Distinguishes this arming from a later one of the same fault, so the expiry timer of a
    /// replaced arming does not disarm its successor.
    generation: u64,
    expires_at: Option<DateTime<Utc>>,
    remaining: Option<u32>,
    delay_ms: Option<u32>,
    armed_by: String,
    armed_at: DateTime<Utc>,
}

/// The service's faults. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Faults {
    /// Shared state.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    enabled: bool,
    specs: &'static [FaultSpec],
    /// Armed faults by name. A std mutex: held for a lookup, never across an await.
    armed: Mutex<State>,
    /// `printflow_faults_active{fault}`.
    active: Family<FaultLabel, Gauge>,
    /// `printflow_faults_injected_total{fault}`.
    injected: Family<FaultLabel, Counter>,
}

#[derive(Debug, Default)]
struct State {
    armed: HashMap<&'static str, Armed>,
    next_generation: u64,
}

impl Faults {
    /// No faults, never armed: for code paths built without a service around them.
    pub fn none() -> Faults {
        Faults::build(false, &[])
    }

    /// The faults `specs` of a service, armable when `enabled`, registering their metrics in
    /// `metrics` (every declared fault shows `0` until armed).
    pub fn new(enabled: bool, specs: &'static [FaultSpec], metrics: &Metrics) -> Faults {
        let faults = Faults::build(enabled, specs);
        metrics.register(
            "printflow_faults_active",
            "1 while an injected fault (a drill) is armed in this process",
            faults.inner.active.clone(),
        );
        metrics.register(
            "printflow_faults_injected",
            "Times an armed fault was injected",
            faults.inner.injected.clone(),
        );
        faults
    }

    fn build(enabled: bool, specs: &'static [FaultSpec]) -> Faults {
        let inner = Inner {
            enabled,
            specs,
            armed: Mutex::new(State::default()),
            active: Family::default(),
            injected: Family::default(),
        };
        for spec in specs {
            inner.active.get_or_create(&label(spec.name)).set(0);
            let _ = inner.injected.get_or_create(&label(spec.name));
        }
        Faults {
            inner: Arc::new(inner),
        }
    }

    /// Whether faults may be armed in this process.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Whether `name` is armed, without using a hit: lets a caller skip work (opening a span)
    /// for a fault that cannot fire.
    pub fn armed(&self, name: &str) -> bool {
        self.inner.enabled && self.lock().armed.contains_key(name)
    }

    /// Whether `name` is armed; if so uses one hit of it, adds a `fault.injected` event to the
    /// current span and says how to misbehave. Cheap when nothing is armed.
    pub fn hit(&self, name: &str) -> Option<Hit> {
        if !self.inner.enabled {
            return None;
        }
        let now = Utc::now();
        let mut state = self.lock();
        let armed = state.armed.get_mut(name)?;
        if armed.expires_at.is_some_and(|at| at <= now) {
            state.armed.remove(name);
            self.inner.active.get_or_create(&label(name)).set(0);
            return None;
        }
        let delay = Duration::from_millis(armed.delay_ms.map_or(0, u64::from));
        let mut remaining = None;
        if let Some(left) = armed.remaining.as_mut() {
            *left = left.saturating_sub(1);
            remaining = Some(*left);
            if *left == 0 {
                state.armed.remove(name);
                self.inner.active.get_or_create(&label(name)).set(0);
            }
        }
        drop(state);
        self.inner.injected.get_or_create(&label(name)).inc();
        tracing::warn!(
            fault.name = name,
            fault.remaining = remaining,
            fault.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "fault.injected"
        );
        Some(Hit { delay })
    }

    /// Arms `name` as `arming` says, replacing an earlier arming of it; `by` names the admin.
    pub fn arm(&self, name: &str, arming: Arming, by: &str) -> Result<FaultView, ArmError> {
        if !self.inner.enabled {
            return Err(ArmError::Disabled);
        }
        let spec = self
            .spec(name)
            .ok_or_else(|| ArmError::Unknown(name.to_owned()))?;
        validate(spec, &arming)?;
        let now = Utc::now();
        let expires_at = arming
            .seconds
            .map(|s| now + chrono::Duration::seconds(i64::from(s)));
        let generation = {
            let mut state = self.lock();
            state.next_generation += 1;
            let generation = state.next_generation;
            state.armed.insert(
                spec.name,
                Armed {
                    generation,
                    expires_at,
                    remaining: arming.count,
                    delay_ms: arming.delay_ms,
                    armed_by: by.to_owned(),
                    armed_at: now,
                },
            );
            generation
        };
        self.inner.active.get_or_create(&label(spec.name)).set(1);
        if let Some(seconds) = arming.seconds {
            // The gauge must fall back to 0 when the time is up even if nothing hits the fault
            // meanwhile (a drill's dashboard would otherwise show a fault that is long over).
            let faults = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
                faults.expire(spec.name, generation);
            });
        }
        tracing::warn!(
            fault.name = spec.name,
            armed_by = by,
            ?arming,
            "fault armed"
        );
        Ok(self.view(spec))
    }

    /// Disarms `name`; `Ok(false)` if it was not armed.
    pub fn disarm(&self, name: &str, by: &str) -> Result<bool, ArmError> {
        if !self.inner.enabled {
            return Err(ArmError::Disabled);
        }
        let spec = self
            .spec(name)
            .ok_or_else(|| ArmError::Unknown(name.to_owned()))?;
        let was = self.lock().armed.remove(spec.name).is_some();
        self.inner.active.get_or_create(&label(spec.name)).set(0);
        if was {
            tracing::warn!(fault.name = spec.name, disarmed_by = by, "fault disarmed");
        }
        Ok(was)
    }

    /// Every declared fault and its state; `Err(Disabled)` when fault injection is off.
    pub fn list(&self) -> Result<Vec<FaultView>, ArmError> {
        if !self.inner.enabled {
            return Err(ArmError::Disabled);
        }
        Ok(self.inner.specs.iter().map(|s| self.view(s)).collect())
    }

    fn expire(&self, name: &'static str, generation: u64) {
        let mut state = self.lock();
        if state
            .armed
            .get(name)
            .is_some_and(|a| a.generation == generation)
        {
            state.armed.remove(name);
            self.inner.active.get_or_create(&label(name)).set(0);
        }
    }

    fn spec(&self, name: &str) -> Option<&'static FaultSpec> {
        self.inner.specs.iter().find(|s| s.name == name)
    }

    fn view(&self, spec: &FaultSpec) -> FaultView {
        let now = Utc::now();
        let armed = self
            .lock()
            .armed
            .get(spec.name)
            .filter(|a| a.expires_at.is_none_or(|at| at > now))
            .cloned();
        let hits = self.inner.injected.get_or_create(&label(spec.name)).get();
        FaultView {
            name: spec.name.to_owned(),
            effect: spec.effect.to_owned(),
            takes_delay: spec.takes_delay,
            active: armed.is_some(),
            expires_at: armed.as_ref().and_then(|a| a.expires_at),
            remaining: armed.as_ref().and_then(|a| a.remaining),
            delay_ms: armed.as_ref().and_then(|a| a.delay_ms),
            armed_by: armed.as_ref().map(|a| a.armed_by.clone()),
            armed_at: armed.as_ref().map(|a| a.armed_at),
            hits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves nothing half-written worth refusing over.
        self.inner
            .armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn label(name: &str) -> FaultLabel {
    FaultLabel {
        fault: name.to_owned(),
    }
}

fn validate(spec: &FaultSpec, arming: &Arming) -> Result<(), ArmError> {
    let invalid = |field, why: &str| Err(ArmError::Invalid(field, why.to_owned()));
    if arming.seconds.is_none() && arming.count.is_none() {
        return invalid(
            "seconds",
            "give `seconds`, `count` or both: a fault never stays armed for good",
        );
    }
    if arming.seconds.is_some_and(|s| !(1..=3600).contains(&s)) {
        return invalid("seconds", "must be between 1 and 3600");
    }
    if arming.count.is_some_and(|c| !(1..=10_000).contains(&c)) {
        return invalid("count", "must be between 1 and 10000");
    }
    match (spec.takes_delay, arming.delay_ms) {
        (true, None) => invalid("delay_ms", "this fault stalls: give `delay_ms`"),
        (true, Some(d)) if !(1..=60_000).contains(&d) => {
            invalid("delay_ms", "must be between 1 and 60000")
        }
        (false, Some(_)) => invalid(
            "delay_ms",
            "this fault does not stall; leave `delay_ms` out",
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FaultSpec] = &[
        FaultSpec {
            name: "drop",
            effect: "drops",
            takes_delay: false,
        },
        FaultSpec {
            name: "stall",
            effect: "stalls",
            takes_delay: true,
        },
    ];

    fn arming(seconds: Option<u32>, count: Option<u32>, delay_ms: Option<u32>) -> Arming {
        Arming {
            seconds,
            count,
            delay_ms,
        }
    }

    fn active(metrics: &Metrics, name: &str) -> f64 {
        let text = metrics.encode().unwrap();
        let line = format!("printflow_faults_active{{fault=\"{name}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    }

    #[tokio::test]
    async fn a_counted_fault_hits_exactly_count_times() {
        let metrics = Metrics::new();
        let faults = Faults::new(true, SPECS, &metrics);
        assert_eq!(active(&metrics, "drop"), 0.0);
        assert!(faults.hit("drop").is_none());
        faults
            .arm("drop", arming(None, Some(2), None), "ada")
            .unwrap();
        assert_eq!(active(&metrics, "drop"), 1.0);
        assert!(faults.hit("drop").is_some());
        assert_eq!(faults.list().unwrap()[0].remaining, Some(1));
        assert!(faults.hit("drop").is_some());
        assert!(faults.hit("drop").is_none());
        assert_eq!(active(&metrics, "drop"), 0.0);
        assert_eq!(faults.list().unwrap()[0].hits, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_fault_disarms_itself_and_its_gauge() {
        let metrics = Metrics::new();
        let faults = Faults::new(true, SPECS, &metrics);
        faults
            .arm("stall", arming(Some(1), None, Some(250)), "ada")
            .unwrap();
        assert_eq!(
            faults.hit("stall"),
            Some(Hit {
                delay: Duration::from_millis(250)
            })
        );
        // Re-arming replaces the first arming: its timer must not disarm the second one.
        faults
            .arm("stall", arming(Some(3), None, Some(5)), "ada")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(active(&metrics, "stall"), 1.0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(active(&metrics, "stall"), 0.0);
        assert!(!faults.list().unwrap()[1].active);
    }

    #[test]
    fn disabled_faults_never_hit_and_refuse_arming() {
        let faults = Faults::new(false, SPECS, &Metrics::new());
        assert_eq!(
            faults.arm("drop", arming(None, Some(1), None), "ada"),
            Err(ArmError::Disabled)
        );
        assert!(faults.hit("drop").is_none());
        assert_eq!(faults.list(), Err(ArmError::Disabled));
        assert!(Faults::none().hit("drop").is_none());
    }

    #[tokio::test]
    async fn bad_armings_say_which_field() {
        let faults = Faults::new(true, SPECS, &Metrics::new());
        let field = |name, a| match faults.arm(name, a, "ada") {
            Err(ArmError::Invalid(field, _)) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("drop", arming(None, None, None)), "seconds");
        assert_eq!(field("drop", arming(Some(0), None, None)), "seconds");
        assert_eq!(field("drop", arming(None, Some(0), None)), "count");
        assert_eq!(field("drop", arming(None, Some(1), Some(5))), "delay_ms");
        assert_eq!(field("stall", arming(None, Some(1), None)), "delay_ms");
        assert_eq!(
            field("stall", arming(None, Some(1), Some(60_001))),
            "delay_ms"
        );
        assert_eq!(
            faults.arm("nope", arming(None, Some(1), None), "ada"),
            Err(ArmError::Unknown("nope".into()))
        );
        assert!(faults.list().unwrap().iter().all(|f| !f.active));
    }
}
