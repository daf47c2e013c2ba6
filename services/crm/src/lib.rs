//! printflow crm service (skeleton; being written).
