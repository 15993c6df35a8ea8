//! Integration tests: real sled stores on disk, real engine, real processes for crashes.

mod crash;
mod invalidation;
mod support;
