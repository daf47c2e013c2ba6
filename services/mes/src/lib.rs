//! printflow mes service (skeleton; being written).
