//! No library code: the tests live in `tests/`.
