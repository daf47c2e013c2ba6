//! MES status events over the real broker: in order, out of order, repeated, illegal, poison.

mod common;

use chrono::SubsecRound;
use common::{peek_messages, spawn_app, status_event, Running, TestApp};
use printflow_contracts::messages::{Envelope, EVENTS_EXCHANGE, ORDER_STATUS_CHANGED};
use printflow_contracts::{FailureReason, OrderStatus, OrderStatusChanged};
use printflow_crm::orders::read::HistoryView;
use printflow_crm::status_events::EventOutcome;
use printflow_messaging::consumer::REASON_HEADER;
use printflow_messaging::topology::CRM_ORDER_STATUS_CHANGED;
use reqwest::StatusCode;
use uuid::Uuid;

/// The happy path after NEW, indexed by MES sequence - 1.
const HAPPY: [OrderStatus; 6] = [
    OrderStatus::Accepted,
    OrderStatus::Printing,
    OrderStatus::PostProcessing,
    OrderStatus::QualityCheck,
    OrderStatus::Ready,
    OrderStatus::Shipped,
];

async fn history(t: &TestApp, order_id: Uuid) -> HistoryView {
    let (code, body) = t.get(&format!("/orders/{order_id}/history")).await;
    assert_eq!(code, StatusCode::OK);
    serde_json::from_value(body).unwrap()
}

/// The history must be NEW followed by every happy-path step in sequence order.
async fn assert_complete_happy_history(t: &TestApp, order_id: Uuid) {
    let h = history(t, order_id).await;
    assert_eq!(h.entries.len(), 1 + HAPPY.len());
    let mut from = OrderStatus::New;
    for (i, entry) in h.entries.iter().enumerate().skip(1) {
        assert_eq!(entry.from_status, Some(from));
        assert_eq!(entry.to_status, HAPPY[i - 1]);
        assert_eq!(entry.status_version, i as i64 + 1);
        assert_eq!(entry.source_sequence, Some(i as i64));
        assert_eq!(entry.source, "mes");
        from = entry.to_status;
    }
}

#[tokio::test]
async fn events_in_order_drive_the_order_to_shipped() {
    let t = spawn_app().await;
    let order = t.create_order().await;
    for (i, status) in HAPPY.iter().enumerate() {
        t.send_status(order.order_id, i as i64 + 1, *status).await;
    }
    let status = t
        .wait_for_status(order.order_id, OrderStatus::Shipped)
        .await;
    assert_eq!(status.status_version, 1 + HAPPY.len() as i64);
    assert_complete_happy_history(&t, order.order_id).await;
    let events = t.events(order.order_id).await;
    assert_eq!(events.last_applied_sequence, 6);
    assert!(events
        .events
        .iter()
        .all(|e| e.outcome == EventOutcome::Applied));
}

#[tokio::test]
async fn events_out_of_order_are_applied_in_sequence_order() {
    let t = spawn_app().await;
    let order = t.create_order().await;
    let id = order.order_id;
    let event = |seq: i64| status_event(id, seq, HAPPY[usize::try_from(seq - 1).unwrap()]);

    t.publish(&event(1)).await;
    let three = event(3);
    t.publish(&three).await;
    t.publish(&three).await; // redelivered while still waiting
    let inbox = t.wait_for_events(id, 3).await;
    // 3 waits for 2; the order only moved to ACCEPTED.
    let status = t.status(id).await;
    assert_eq!(
        (status.status, status.status_version),
        (OrderStatus::Accepted, 2)
    );
    let outcomes: Vec<(i64, EventOutcome)> = inbox
        .events
        .iter()
        .map(|e| (e.sequence, e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, EventOutcome::Applied),
            (3, EventOutcome::Pending),
            (3, EventOutcome::Duplicate)
        ]
    );
    assert!(inbox.events[2]
        .reason
        .as_deref()
        .unwrap()
        .contains("redelivery"));

    for seq in [2, 5, 4, 6] {
        t.publish(&event(seq)).await;
    }
    let status = t.wait_for_status(id, OrderStatus::Shipped).await;
    assert_eq!(status.status_version, 7);
    assert_complete_happy_history(&t, id).await;
    let inbox = t.events(id).await;
    assert_eq!(inbox.last_applied_sequence, 6);
    let first_receipts: Vec<i64> = inbox
        .events
        .iter()
        .filter(|e| e.outcome == EventOutcome::Applied)
        .map(|e| e.sequence)
        .collect();
    assert_eq!(first_receipts, [1, 2, 3, 4, 5, 6]);
}

/// Events of many orders at once, each order's in a different order, handled by the consumer's
/// concurrent deliveries: the next-in-line fast path and the general path race for the same
/// order rows, and every order must still end with its whole history in sequence order and
/// nothing left waiting.
#[tokio::test]
async fn concurrent_events_in_any_order_are_all_applied_in_sequence_order() {
    let t = spawn_app().await;
    // Each permutation of 1..=6 is one order's delivery order: in order, reversed, pairs
    // swapped, the first last, and two interleavings.
    let orders: [[i64; 6]; 6] = [
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
        [2, 1, 4, 3, 6, 5],
        [2, 3, 4, 5, 6, 1],
        [1, 3, 5, 2, 4, 6],
        [4, 1, 5, 2, 6, 3],
    ];
    let mut ids = Vec::new();
    for _ in 0..3 {
        for _ in &orders {
            ids.push(t.create_order().await.order_id);
        }
    }
    // Round-robin over the orders, so consecutive deliveries belong to different orders and an
    // order's events sit close together in the queue.
    let deliveries: Vec<(Uuid, i64)> = (0..6)
        .flat_map(|step| {
            ids.iter()
                .enumerate()
                .map(move |(n, id)| (*id, orders[n % orders.len()][step]))
        })
        .collect();
    for (id, seq) in deliveries {
        t.send_status(id, seq, HAPPY[usize::try_from(seq - 1).unwrap()])
            .await;
    }
    for id in &ids {
        let status = t.wait_for_status(*id, OrderStatus::Shipped).await;
        assert_eq!(status.status_version, 7, "order {id}");
        assert_complete_happy_history(&t, *id).await;
    }
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE events_waiting OR last_source_sequence <> 6",
    )
    .fetch_one(&t.db.pool)
    .await
    .unwrap();
    assert_eq!(
        waiting, 0,
        "every order processed all six events, none waits"
    );
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM status_events WHERE outcome <> 'applied'")
            .fetch_one(&t.db.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0, "every first receipt was applied");
}

#[tokio::test]
async fn duplicate_and_stale_events_change_nothing_and_are_recorded() {
    let t = spawn_app().await;
    let id = t.create_order().await.order_id;

    let accepted = t.send_status(id, 1, OrderStatus::Accepted).await;
    t.publish(&accepted).await; // the same message again
    t.send_status(id, 2, OrderStatus::Printing).await;
    // An older sequence, as a new message, after a newer one was applied.
    let late = t.send_status(id, 1, OrderStatus::Accepted).await;
    let inbox = t.wait_for_events(id, 4).await;

    let status = t.status(id).await;
    assert_eq!(
        (status.status, status.status_version),
        (OrderStatus::Printing, 3)
    );
    assert_eq!(history(&t, id).await.entries.len(), 3);
    // The consumer handles several deliveries at once, so the duplicate and the late message
    // may be recorded in either order; what each was found to be may not vary.
    let mut seen: Vec<(i64, Uuid, EventOutcome)> = inbox
        .events
        .iter()
        .map(|e| (e.sequence, e.message_id, e.outcome))
        .collect();
    seen[1..3].sort_by_key(|e| format!("{:?}", e.2));
    assert_eq!(
        seen,
        [
            (1, accepted.message_id, EventOutcome::Applied),
            (1, accepted.message_id, EventOutcome::Duplicate),
            (1, late.message_id, EventOutcome::Stale),
            (2, seen[3].1, EventOutcome::Applied),
        ]
    );
    let stale = inbox
        .events
        .iter()
        .find(|e| e.outcome == EventOutcome::Stale)
        .unwrap();
    assert!(stale
        .reason
        .as_deref()
        .unwrap()
        .contains("already processed"));

    // The status keeps moving forward afterwards.
    t.send_status(id, 3, OrderStatus::PostProcessing).await;
    let status = t.wait_for_status(id, OrderStatus::PostProcessing).await;
    assert_eq!(status.status_version, 4);

    // Even with the first receipt gone from the inbox (archived), an old sequence is stale.
    sqlx::query("DELETE FROM status_events WHERE order_id = $1 AND sequence = 1")
        .bind(id)
        .execute(&t.db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM status_event_repeats WHERE order_id = $1")
        .bind(id)
        .execute(&t.db.pool)
        .await
        .unwrap();
    let replay = t.send_status(id, 1, OrderStatus::Accepted).await;
    let inbox = t.wait_for_events(id, 3).await;
    let first = &inbox.events[0];
    assert_eq!(
        (first.message_id, first.outcome),
        (replay.message_id, EventOutcome::Stale)
    );
    let status = t.status(id).await;
    assert_eq!(
        (status.status, status.status_version),
        (OrderStatus::PostProcessing, 4)
    );
}

#[tokio::test]
async fn events_published_while_crm_is_down_are_applied_when_it_is_back() {
    let mut t = spawn_app().await;
    let id = t.create_order().await.order_id;
    t.app.halt().await;
    // CRM is down; MES keeps publishing and the durable queue keeps the events.
    for (i, status) in HAPPY.iter().take(3).enumerate() {
        let event = status_event(id, i as i64 + 1, *status);
        t.vhost
            .publish_raw(
                EVENTS_EXCHANGE,
                ORDER_STATUS_CHANGED,
                &event.to_json().to_string(),
            )
            .await;
    }
    t.app = Running::start(&t.db.url, &t.vhost.amqp_url, &[]).await;
    let status = t.wait_for_status(id, HAPPY[2]).await;
    assert_eq!(status.status_version, 4);
    assert_eq!(t.events(id).await.last_applied_sequence, 3);
}

/// `CRM_AMQP_URL` may list several nodes of a cluster: a node that refuses connections is
/// skipped for the next, and consumption goes on there.
#[tokio::test]
async fn a_dead_node_listed_first_in_the_amqp_url_is_skipped() {
    let mut t = spawn_app().await;
    let id = t.create_order().await.order_id;
    t.app.halt().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("amqp://127.0.0.1:{}/%2f", dead.local_addr().unwrap().port());
    drop(dead);
    t.app = Running::start(&t.db.url, &format!("{dead_url},{}", t.vhost.amqp_url), &[]).await;
    t.send_status(id, 1, OrderStatus::Accepted).await;
    let status = t.wait_for_status(id, OrderStatus::Accepted).await;
    assert_eq!(status.status_version, 2);
}

#[tokio::test]
async fn an_illegal_transition_is_rejected_and_does_not_block_later_events() {
    let t = spawn_app().await;
    let id = t.create_order().await.order_id;
    t.send_status(id, 1, OrderStatus::Accepted).await;
    t.send_status(id, 2, OrderStatus::Printing).await;
    t.send_status(id, 3, OrderStatus::Shipped).await; // skips post-processing, QC and READY
    let inbox = t.wait_for_events(id, 3).await;
    let rejected = &inbox.events[2];
    assert_eq!(
        (rejected.sequence, rejected.outcome),
        (3, EventOutcome::Rejected)
    );
    assert_eq!(
        rejected.reason.as_deref(),
        Some("illegal transition PRINTING -> SHIPPED")
    );
    let status = t.status(id).await;
    assert_eq!(
        (status.status, status.status_version),
        (OrderStatus::Printing, 3)
    );

    t.send_status(id, 4, OrderStatus::PostProcessing).await;
    let status = t.wait_for_status(id, OrderStatus::PostProcessing).await;
    assert_eq!(status.status_version, 4);
    let h = history(&t, id).await;
    let last = h.entries.last().unwrap();
    assert_eq!(
        (last.from_status, last.source_sequence),
        (Some(OrderStatus::Printing), Some(4))
    );
    assert_eq!(
        h.entries.len(),
        4,
        "the rejected event left no history entry"
    );
}

#[tokio::test]
async fn a_failure_is_reported_and_a_retry_clears_it() {
    let t = spawn_app().await;
    let id = t.create_order().await.order_id;
    t.send_status(id, 1, OrderStatus::Accepted).await;
    t.send_status(id, 2, OrderStatus::Printing).await;
    let failed = Envelope::new(OrderStatusChanged {
        failure: Some(FailureReason::PrintFailure),
        detail: Some("layer shift on printer 3".into()),
        ..status_event(id, 3, OrderStatus::Failed).data
    });
    t.publish(&failed).await;
    let status = t.wait_for_status(id, OrderStatus::Failed).await;
    assert_eq!(status.failure_reason.as_deref(), Some("print_failure"));
    let h = history(&t, id).await;
    let entry = h.entries.last().unwrap();
    assert_eq!(
        entry.detail.as_deref(),
        Some("print_failure: layer shift on printer 3")
    );
    // The source's time is kept (PostgreSQL stores microseconds).
    assert_eq!(entry.changed_at, failed.data.changed_at.trunc_subsecs(6));

    t.send_status(id, 4, OrderStatus::Accepted).await;
    let status = t.wait_for_status(id, OrderStatus::Accepted).await;
    assert_eq!(status.failure_reason, None);
    assert_eq!(status.status_version, 5);
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_a_reason_and_consumption_goes_on() {
    let t = spawn_app().await;
    let id = t.create_order().await.order_id;

    t.publish_body("not json").await;
    let mut future_version = status_event(id, 1, OrderStatus::Accepted).to_json();
    future_version["schema_version"] = 99.into();
    t.publish_body(&future_version.to_string()).await;
    t.send_status(Uuid::now_v7(), 1, OrderStatus::Accepted)
        .await; // no such order
    t.send_status(id, 0, OrderStatus::Accepted).await; // sequences start at 1
                                                       // A valid event sent after all of them is still applied.
    t.send_status(id, 1, OrderStatus::Accepted).await;
    t.wait_for_status(id, OrderStatus::Accepted).await;

    let dlq = CRM_ORDER_STATUS_CHANGED.dead_letter_queue();
    let parked = peek_messages(&t.vhost, &dlq, 4).await;
    assert_eq!(parked.len(), 4);
    let reason_of = |needle: &str| -> (String, String) {
        parked
            .iter()
            .map(|m| {
                (
                    m["properties"]["headers"][REASON_HEADER]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    m["payload"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .find(|(reason, _)| reason.contains(needle))
            .unwrap_or_else(|| {
                panic!("no dead letter with reason containing {needle:?}: {parked:?}")
            })
    };
    let (_, payload) = reason_of("malformed message");
    assert_eq!(
        payload, "not json",
        "the original body is kept for inspection"
    );
    reason_of("unsupported schema_version 99");
    reason_of("unknown order");
    reason_of("invalid sequence 0");
    // The poison messages never reached the order's inbox.
    let inbox = t.events(id).await;
    assert_eq!(inbox.events.len(), 1);
    assert_eq!(inbox.events[0].outcome, EventOutcome::Applied);
}
