//! printflow shop service (skeleton; being written).
