//! The realm roles printflow knows (docs/security.md has the table of who may do what).

use std::fmt;

/// A realm role, as it appears in a token's `realm_access.roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A person who designs models and orders prints; sees only their own designs and orders.
    Customer,
    /// Customer support: reads every order, its history and its customer; cancels orders.
    Support,
    /// The shop floor: reads jobs and printers; alone pauses and resumes printers, decides
    /// quality checks and retries jobs.
    Production,
    /// Operations: metrics and (with the telemetry gate) every trace.
    Sre,
    /// Administration: reads everything and cancels orders; does not operate printers.
    Admin,
    /// The Shop service: creates orders in CRM and reads them back.
    OrderIntake,
    /// The MES service: downloads any design's model file from the Shop.
    ModelReader,
    /// The CRM service: reads MES jobs' states and histories (its reconciler).
    JobReader,
    /// Reads `/metrics` (Prometheus' client; people with `sre` or `admin` get it too).
    MetricsReader,
    /// A service sending its own spans to the telemetry gate.
    TelemetryWriter,
}

impl Role {
    /// Every role, for documentation and tests.
    pub const ALL: [Role; 10] = [
        Role::Customer,
        Role::Support,
        Role::Production,
        Role::Sre,
        Role::Admin,
        Role::OrderIntake,
        Role::ModelReader,
        Role::JobReader,
        Role::MetricsReader,
        Role::TelemetryWriter,
    ];

    /// The role's name in the realm.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Support => "support",
            Role::Production => "production",
            Role::Sre => "sre",
            Role::Admin => "admin",
            Role::OrderIntake => "order-intake",
            Role::ModelReader => "model-reader",
            Role::JobReader => "job-reader",
            Role::MetricsReader => "metrics-reader",
            Role::TelemetryWriter => "telemetry-writer",
        }
    }

    /// The role named `name`, if printflow knows it (other realm roles are ignored).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_ignored() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("offline_access"), None);
        assert_eq!(Role::parse("Admin"), None, "role names are case-sensitive");
    }
}
