//! The error of everything that talks to the broker.

/// A failure talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// The AMQP client reported an error (connection lost, channel closed, refused declare).
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not confirm in time.
    #[error("timed out waiting for the broker: {0}")]
    Timeout(&'static str),
    /// The broker negatively acknowledged a publish.
    #[error("broker refused the message (nack)")]
    Nacked,
    /// `mandatory` publish with no queue bound to the routing key.
    #[error("message to `{0}` was unroutable")]
    Unroutable(String),
}
