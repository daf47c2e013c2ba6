//! Fault injection for drills (`scripts/drill.sh`) and tests: a service declares the faults it
//! can simulate ([`FaultSpec`]), an `admin` arms one over HTTP for a duration or a number of hits
//! ([`routes`]), and the code at the failing hop asks [`Faults::hit`] whether to misbehave.
//!
//! - Off unless the process was started with `PRINTFLOW_FAULTS=enabled` ([`FaultSettings`]):
//!   then every hit is `None` and the routes answer 404 `faults_disabled` (still behind the
//!   `admin` check, so an anonymous caller learns nothing).
//! - Nobody mistakes a drill for an outage: each armed fault is `1` in
//!   `printflow_faults_active{fault}`, every hit counts in `printflow_faults_injected_total{fault}`
//!   and adds a `fault.injected` event (attribute `fault.name`) to the current span.
//!
//! Error type: the routes answer `printflow_web::ApiError`; [`ArmError`] is what arming refuses.
//!
//! Modules: `routes` (HTTP) uses `registry`; `settings` and `registry` use no sibling.

mod registry;
pub mod routes;
mod settings;

pub use registry::{ArmError, Arming, FaultSpec, FaultView, Faults, Hit};
pub use settings::FaultSettings;
