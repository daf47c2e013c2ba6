//! Which printer a job queues on. Below both [`crate::jobs`] (a transition back to `ACCEPTED`
//! picks a printer) and [`crate::printers`] (queue views), which share what "queued" means.

use sqlx::PgConnection;

/// Statuses that occupy a printer's queue.
pub(crate) const QUEUED: &str = "('ACCEPTED', 'PRINTING')";

/// The printer a newly accepted job should queue on: the shortest queue among unpaused
/// printers, or the shortest of all if every printer is paused (the job then waits for a
/// resume rather than being refused). `None` only if there are no printers at all.
pub async fn pick_printer(conn: &mut PgConnection) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT p.id FROM printers p
         LEFT JOIN jobs j ON j.printer_id = p.id AND j.status IN {QUEUED}
         GROUP BY p.id
         ORDER BY p.paused, count(j.id), p.id
         LIMIT 1"
    ))
    .fetch_optional(conn)
    .await
}
