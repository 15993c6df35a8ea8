//! Tests of the pure episode core.
