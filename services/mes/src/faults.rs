//! The drill faults MES can simulate (armed by an `admin` at `/admin/faults` when the process
//! runs with `PRINTFLOW_FAULTS=enabled`; see `printflow_faults`).

use printflow_faults::FaultSpec;

/// Seed point 7: the outbox relay marks an `order.status_changed` sent without publishing it.
pub const DROP_STATUS_CHANGED: &str = "outbox.drop.order.status_changed";

/// Every fault MES declares.
pub const FAULTS: &[FaultSpec] = &[FaultSpec {
    name: DROP_STATUS_CHANGED,
    effect: "seed point 7 (status-change events lost): the outbox relay marks an \
             order.status_changed sent without publishing it",
    takes_delay: false,
}];
