//! The drill faults the CRM can simulate (armed by an `admin` at `/admin/faults` when the
//! process runs with `PRINTFLOW_FAULTS=enabled`; see `printflow_faults`).

use printflow_faults::FaultSpec;

/// Seed point 4: a status event is recorded as applied but the order keeps its old status.
pub const SKIP_UPDATE: &str = "status_event.skip_update";
/// Seed point 8: reading an order or its status stalls for `delay_ms`.
pub const STATUS_STALL: &str = "orders.read.stall";
/// Seed point 5: the outbox relay marks `order.created` sent without publishing it.
pub const DROP_ORDER_CREATED: &str = "outbox.drop.order.created";

/// Every fault the CRM declares.
pub const FAULTS: &[FaultSpec] = &[
    FaultSpec {
        name: SKIP_UPDATE,
        effect: "seed point 4 (wrong status returned): an order.status_changed event is \
                 recorded as applied but the order keeps its old status (a lost update)",
        takes_delay: false,
    },
    FaultSpec {
        name: STATUS_STALL,
        effect: "seed point 8 (status requests hang): GET /orders/{id} and \
                 /orders/{id}/status wait delay_ms before answering",
        takes_delay: true,
    },
    FaultSpec {
        name: DROP_ORDER_CREATED,
        effect: "seed point 5 (order created message lost): the outbox relay marks an \
                 order.created sent without publishing it",
        takes_delay: false,
    },
];
