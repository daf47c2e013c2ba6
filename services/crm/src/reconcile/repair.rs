//! `POST /orders/{id}/repair` (`admin`): looks at one order again, now and without the grace
//! period, and does the one safe thing for what disagrees. Each repair is a row in
//! `order_repairs`, shown with the order's history; a status it sets is a history entry of
//! source `reconciliation`. Nothing already recorded is changed.
//!
//! | kind | repair |
//! |---|---|
//! | `order_created_not_in_mes` | republishes `order.created` (a copy of the original outbox row, new message id; MES keys jobs by order, so a late original changes nothing) |
//! | `order_created_unpublished` | none: the relay sends it once the broker takes it (409) |
//! | `status_events_missing` | reads the job's history from MES and applies the missing events through the normal inbox, in order |
//! | `status_mismatch` | sets CRM's status to MES's (MES owns production), recorded as a history entry |
//! | `cancellation_not_honoured` | republishes `order.cancelled` while the job has not started; once printing, records the admin's acknowledgement (the reconciler stops reporting it) |

use super::classify::{classify, Finding, Kind};
use super::mes_client::MesError;
use super::{snapshots, Reconciler};
use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::status_events::record_and_apply;
use printflow_contracts::{Envelope, FailureReason, OrderStatus, OrderStatusChanged};
use printflow_faults::Faults;
use printflow_messaging::OutboxSignal;
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairOutcome {
    /// The order.
    pub order_id: Uuid,
    /// What disagreed.
    pub kind: Kind,
    /// What was done: `republished`, `reapplied`, `status_set` or `acknowledged`.
    pub action: &'static str,
    /// One sentence for the history.
    pub detail: String,
}

/// Why no repair was made.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// No such order.
    #[error("order {0} not found")]
    NotFound(Uuid),
    /// CRM and MES agree.
    #[error("CRM and MES agree on order {0}: nothing to repair")]
    NothingToRepair(Uuid),
    /// The disagreement heals without help (or cannot be helped from here).
    #[error("{0}")]
    NoSafeRepair(String),
    /// MES could not be asked.
    #[error(transparent)]
    Mes(#[from] MesError),
    /// CRM's database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying MES's events failed.
    #[error("applying MES's events: {0}")]
    Apply(String),
}

/// What a repair needs besides the reconciler.
#[derive(Debug, Clone)]
pub struct RepairContext<'a> {
    /// CRM's database.
    pub db: &'a Db,
    /// Wakes the relay after a republish.
    pub outbox: &'a OutboxSignal,
    /// Observes reapplied status changes.
    pub metrics: &'a CrmMetrics,
}

/// Repairs order `order_id` for the admin `by` (see the module docs).
#[tracing::instrument(
    name = "order.repair",
    skip_all,
    fields(order.id = %order_id, reconcile.kind, reconcile.action)
)]
pub async fn repair(
    reconciler: &Reconciler,
    cx: RepairContext<'_>,
    order_id: Uuid,
    by: &str,
) -> Result<RepairOutcome, RepairError> {
    let order = snapshots(cx.db, reconciler.settings().window, Some(order_id))
        .await?
        .pop()
        .ok_or(RepairError::NotFound(order_id))?;
    let job = reconciler.mes().states(&[order_id]).await?.pop();
    let finding = classify(&order, job.as_ref(), chrono::Utc::now(), Duration::ZERO)
        .ok_or(RepairError::NothingToRepair(order_id))?;
    let span = tracing::Span::current();
    span.record("reconcile.kind", finding.kind.as_str());
    let (action, detail) = match finding.kind {
        Kind::OrderCreatedUnpublished => {
            return Err(RepairError::NoSafeRepair(
                "order.created is still in CRM's outbox; the relay sends it as soon as the \
                 broker takes it (see OutboxBacklog)"
                    .into(),
            ))
        }
        Kind::OrderCreatedNotInMes => {
            republish(cx.db, "order.created", order_id).await?;
            cx.outbox.wake();
            ("republished", "order.created published again".to_owned())
        }
        Kind::StatusEventsMissing => {
            let job = job.as_ref().expect("a job is ahead of CRM");
            let applied = reapply(reconciler, &cx, &finding, job.job_id).await?;
            ("reapplied", applied)
        }
        Kind::StatusMismatch => ("status_set", set_status(cx.db, &finding, by).await?),
        Kind::CancellationNotHonoured => {
            let status = finding.mes_status.unwrap_or(OrderStatus::New);
            if matches!(status, OrderStatus::New | OrderStatus::Accepted) {
                republish(cx.db, "order.cancelled", order_id).await?;
                cx.outbox.wake();
                ("republished", "order.cancelled published again".to_owned())
            } else {
                (
                    "acknowledged",
                    format!("production went on (MES's job is {status}); acknowledged"),
                )
            }
        }
    };
    span.record("reconcile.action", action);
    sqlx::query(
        "INSERT INTO order_repairs (order_id, kind, action, detail, repaired_by)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order_id)
    .bind(finding.kind.as_str())
    .bind(action)
    .bind(&detail)
    .bind(by)
    .execute(&cx.db.pool)
    .await?;
    tracing::warn!(reconcile.repaired_by = by, %detail, "order repaired");
    Ok(RepairOutcome {
        order_id,
        kind: finding.kind,
        action,
        detail,
    })
}

/// Copies the order's latest `routing_key` outbox row as a new pending row with a new message
/// id, keeping the original trace context.
async fn republish(db: &Db, routing_key: &str, order_id: Uuid) -> Result<(), RepairError> {
    let message_id = Uuid::now_v7();
    let copied = sqlx::query(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, headers)
         SELECT $1, exchange, routing_key,
                jsonb_set(payload, '{message_id}', to_jsonb($1::text)), headers
         FROM outbox
         WHERE routing_key = $2 AND payload->'data'->>'order_id' = $3::text
         ORDER BY id DESC LIMIT 1",
    )
    .bind(message_id)
    .bind(routing_key)
    .bind(order_id)
    .execute(&db.pool)
    .await?;
    if copied.rows_affected() == 0 {
        return Err(RepairError::NoSafeRepair(format!(
            "CRM's outbox holds no {routing_key} for order {order_id} to publish again"
        )));
    }
    Ok(())
}

/// Applies MES's events after CRM's last processed sequence, as if they had been delivered.
async fn reapply(
    reconciler: &Reconciler,
    cx: &RepairContext<'_>,
    finding: &Finding,
    job_id: Uuid,
) -> Result<String, RepairError> {
    let events = reconciler.mes().events(job_id).await?;
    let missing: Vec<_> = events
        .into_iter()
        .filter(|e| e.sequence > finding.crm_sequence)
        .collect();
    for event in &missing {
        let envelope = Envelope::new(OrderStatusChanged {
            order_id: finding.order_id,
            sequence: event.sequence,
            status: event.to_status,
            failure: event
                .failure_reason
                .as_deref()
                .and_then(|r| serde_json::from_value::<FailureReason>(r.into()).ok()),
            detail: event.detail.clone(),
            source: "mes".into(),
            changed_at: event.at,
        });
        record_and_apply(cx.db, cx.metrics, &Faults::none(), &envelope)
            .await
            .map_err(|e| RepairError::Apply(e.to_string()))?;
    }
    let (first, last) = match (missing.first(), missing.last()) {
        (Some(f), Some(l)) => (f.sequence, l.sequence),
        _ => return Err(RepairError::NothingToRepair(finding.order_id)),
    };
    Ok(format!("MES's events {first}..={last} applied again"))
}

/// Sets CRM's status to MES's, if the order is still as the finding saw it.
async fn set_status(db: &Db, finding: &Finding, by: &str) -> Result<String, RepairError> {
    let to = finding
        .mes_status
        .ok_or(RepairError::NothingToRepair(finding.order_id))?;
    let detail = format!(
        "set by {by}: MES's job is {to} at sequence {}",
        finding.mes_sequence.unwrap_or_default()
    );
    let mut tx = db.begin().await?;
    let version: Option<i64> = sqlx::query_scalar(
        "UPDATE orders SET status = $2, status_version = status_version + 1,
             status_since = now(), failure_reason = NULL
         WHERE id = $1 AND status = $3 AND last_source_sequence = $4
         RETURNING status_version",
    )
    .bind(finding.order_id)
    .bind(to.as_str())
    .bind(finding.crm_status.as_str())
    .bind(finding.crm_sequence)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(version) = version else {
        return Err(RepairError::NoSafeRepair(
            "the order changed meanwhile; look again".into(),
        ));
    };
    sqlx::query(
        "INSERT INTO order_status_history (order_id, from_status, to_status, status_version,
             source, source_sequence, detail, changed_at)
         VALUES ($1, $2, $3, $4, 'reconciliation', $5, $6, now())",
    )
    .bind(finding.order_id)
    .bind(finding.crm_status.as_str())
    .bind(to.as_str())
    .bind(version)
    .bind(finding.mes_sequence)
    .bind(&detail)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(format!("CRM's status {} {detail}", finding.crm_status))
}
