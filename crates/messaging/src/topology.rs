//! Exchanges and queues. Every service declares the whole topology at connect time (declares are
//! idempotent): a message published before its consumer ever started must still find its queue.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use printflow_contracts::messages::{
    EVENTS_EXCHANGE, ORDER_CANCELLED, ORDER_CREATED, ORDER_STATUS_CHANGED,
};

/// Where rejected and poison messages go (direct exchange, routing key = source queue name).
pub const DEAD_LETTER_EXCHANGE: &str = "printflow.dlx";

/// After this many deliveries a message is dead-lettered by the broker (reason `delivery_limit`),
/// so a message that always fails can never loop forever.
pub const DELIVERY_LIMIT: i64 = 5;

/// A work queue bound to [`EVENTS_EXCHANGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// Queue name.
    pub name: &'static str,
    /// Routing key it is bound with.
    pub binding_key: &'static str,
}

impl QueueSpec {
    /// Name of this queue's dead-letter queue.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.name)
    }
}

/// MES takes new orders from here.
pub const MES_ORDER_CREATED: QueueSpec = QueueSpec {
    name: "mes.order_created",
    binding_key: ORDER_CREATED,
};

/// MES takes cancellations from here (a queue of its own: a cancellation may overtake the order's
/// `order.created`, and MES keeps a note of it until then).
pub const MES_ORDER_CANCELLED: QueueSpec = QueueSpec {
    name: "mes.order_cancelled",
    binding_key: ORDER_CANCELLED,
};

/// CRM takes production status changes from here.
pub const CRM_ORDER_STATUS_CHANGED: QueueSpec = QueueSpec {
    name: "crm.order_status_changed",
    binding_key: ORDER_STATUS_CHANGED,
};

/// Every work queue in the system.
pub const ALL_QUEUES: [QueueSpec; 3] = [
    MES_ORDER_CREATED,
    MES_ORDER_CANCELLED,
    CRM_ORDER_STATUS_CHANGED,
];

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// Declares the exchanges, and `queues` with their dead-letter queues and bindings.
pub async fn declare(channel: &Channel, queues: &[QueueSpec]) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            EVENTS_EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    let queue_opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for spec in queues {
        let dlq = spec.dead_letter_queue();
        channel
            .queue_declare(dlq.as_str().into(), queue_opts, quorum_args())
            .await?;
        channel
            .queue_bind(
                dlq.as_str().into(),
                DEAD_LETTER_EXCHANGE.into(),
                spec.name.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        let mut args = quorum_args();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(spec.name.into()),
        );
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        channel
            .queue_declare(spec.name.into(), queue_opts, args)
            .await?;
        channel
            .queue_bind(
                spec.name.into(),
                EVENTS_EXCHANGE.into(),
                spec.binding_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
