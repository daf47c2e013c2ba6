//! Messages on the `printflow.events` exchange.
//!
//! Every message is an [`Envelope`]: an explicit `schema_version`, a unique `message_id` (also set
//! as the AMQP `message-id` property) and a `type` equal to its routing key, around the event data.
//! A consumer that meets a version it does not know dead-letters the message instead of guessing.

use crate::print_spec::PrintSpec;
use crate::status::{FailureReason, OrderStatus};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The exchange every event is published to (topic, durable).
pub const EVENTS_EXCHANGE: &str = "printflow.events";
/// Routing key and `type` of [`OrderCreated`].
pub const ORDER_CREATED: &str = "order.created";
/// Routing key and `type` of [`OrderStatusChanged`].
pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";
/// Routing key and `type` of [`OrderCancelled`].
pub const ORDER_CANCELLED: &str = "order.cancelled";
/// The only schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The wrapper around every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Version of the `data` schema; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Unique per message; consumers use it for de-duplication and logs.
    pub message_id: Uuid,
    /// The event type, equal to the routing key it was published with.
    #[serde(rename = "type")]
    pub message_type: String,
    /// When the producer recorded the event.
    pub occurred_at: DateTime<Utc>,
    /// The event itself.
    pub data: T,
}

/// An event type: ties a data struct to its routing key.
pub trait Event: Serialize + DeserializeOwned {
    /// The routing key and envelope `type`.
    const TYPE: &'static str;
}

impl<T: Event> Envelope<T> {
    /// Wraps `data` with a fresh message id and the current time.
    pub fn new(data: T) -> Self {
        Envelope {
            schema_version: SCHEMA_VERSION,
            message_id: Uuid::now_v7(),
            message_type: T::TYPE.to_owned(),
            occurred_at: Utc::now(),
            data,
        }
    }

    /// The JSON body to publish.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("envelope serialises")
    }
}

/// Why a message body was refused. The text becomes the dead-letter reason header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or JSON without the envelope fields or with wrong data fields.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `schema_version` this build does not read.
    #[error("unsupported schema_version {0} (this consumer reads {SCHEMA_VERSION})")]
    UnsupportedVersion(u32),
    /// An envelope of another event type than the queue carries.
    #[error("unexpected message type `{found}`, expected `{expected}`")]
    WrongType {
        /// The type this consumer handles.
        expected: &'static str,
        /// The type in the message.
        found: String,
    },
}

/// Decodes and checks a message body: envelope first, so the version is checked before the data
/// shape (a v2 message must say "unsupported version", not "missing field").
pub fn decode<T: Event>(body: &[u8]) -> Result<Envelope<T>, DecodeError> {
    #[derive(Deserialize)]
    struct Header {
        schema_version: u32,
        #[serde(rename = "type")]
        message_type: String,
    }
    let header: Header =
        serde_json::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if header.schema_version != SCHEMA_VERSION {
        return Err(DecodeError::UnsupportedVersion(header.schema_version));
    }
    if header.message_type != T::TYPE {
        return Err(DecodeError::WrongType {
            expected: T::TYPE,
            found: header.message_type,
        });
    }
    serde_json::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// How the customer wants the parts delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shipping {
    /// Regular parcel.
    Standard,
    /// Next-day courier.
    Express,
    /// Collected at the workshop.
    Pickup,
}

impl Shipping {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Shipping::Standard => "standard",
            Shipping::Express => "express",
            Shipping::Pickup => "pickup",
        }
    }
}

/// CRM recorded a new order; MES starts production from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// The order (assigned by Shop, recorded by CRM).
    pub order_id: Uuid,
    /// The CRM customer; never personal data, only the id.
    pub customer_id: Uuid,
    /// What to print (flattened: its fields sit at the top level of `data`); MES checks it
    /// with [`PrintSpec::validate`] before creating a job.
    #[serde(flatten)]
    pub spec: PrintSpec,
    /// Delivery choice.
    pub shipping: Shipping,
}

impl Event for OrderCreated {
    const TYPE: &'static str = ORDER_CREATED;
}

/// CRM cancelled an order (on request, while it had not reached a printer); MES stops its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    /// The order.
    pub order_id: Uuid,
    /// When CRM cancelled it.
    pub cancelled_at: DateTime<Utc>,
}

impl Event for OrderCancelled {
    const TYPE: &'static str = ORDER_CANCELLED;
}

/// MES moved an order's production job to a new status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    /// The order.
    pub order_id: Uuid,
    /// Per-order, strictly increasing from 1, assigned by the producer. CRM applies events in
    /// this order and ignores any sequence it has already applied.
    pub sequence: i64,
    /// The status the order entered.
    pub status: OrderStatus,
    /// Why, for `FAILED`.
    pub failure: Option<FailureReason>,
    /// Human-readable detail (failure message, operator note).
    pub detail: Option<String>,
    /// Which system made the change (`mes`).
    pub source: String,
    /// When the change happened at the source.
    pub changed_at: DateTime<Utc>,
}

impl Event for OrderStatusChanged {
    const TYPE: &'static str = ORDER_STATUS_CHANGED;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OrderStatusChanged {
        OrderStatusChanged {
            order_id: Uuid::now_v7(),
            sequence: 2,
            status: OrderStatus::Printing,
            failure: None,
            detail: None,
            source: "mes".into(),
            changed_at: Utc::now(),
        }
    }

    #[test]
    fn envelope_round_trips() {
        let env = Envelope::new(sample());
        let bytes = serde_json::to_vec(&env).unwrap();
        let back: Envelope<OrderStatusChanged> = decode(&bytes).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.message_type, ORDER_STATUS_CHANGED);
    }

    #[test]
    fn unknown_version_is_reported_before_shape() {
        let mut json = Envelope::new(sample()).to_json();
        json["schema_version"] = 7.into();
        json["data"] = serde_json::json!({"something": "else"});
        let err = decode::<OrderStatusChanged>(json.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedVersion(7));
    }

    #[test]
    fn order_created_keeps_its_flat_wire_shape() {
        let body = serde_json::json!({
            "schema_version": 1,
            "message_id": Uuid::nil(),
            "type": ORDER_CREATED,
            "occurred_at": "2026-01-01T00:00:00Z",
            "data": {
                "order_id": Uuid::nil(), "customer_id": Uuid::nil(), "design_id": Uuid::nil(),
                "design_version": 3, "model_sha256": "ab".repeat(32), "model_size_bytes": 684,
                "estimated_print_seconds": 3600, "material": "PLA", "quantity": 2,
                "shipping": "express"
            }
        });
        let env = decode::<OrderCreated>(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            (env.data.spec.design_version, env.data.spec.quantity),
            (3, 2)
        );
        assert_eq!(env.data.shipping, Shipping::Express);
        assert_eq!(env.to_json(), body);
    }

    #[test]
    fn garbage_and_wrong_type_are_refused() {
        assert!(matches!(
            decode::<OrderStatusChanged>(b"not json"),
            Err(DecodeError::Malformed(_))
        ));
        let json = Envelope::new(sample()).to_json().to_string();
        assert!(matches!(
            decode::<OrderCreated>(json.as_bytes()),
            Err(DecodeError::WrongType { .. })
        ));
    }
}
