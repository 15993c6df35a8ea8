//! Integration tests: real sled stores on disk, real engine, real processes for crashes.

mod actions;
mod concurrency;
mod crash;
mod definitions;
mod events;
mod http;
mod invalidation;
mod keys;
mod local_models;
mod ownership;
mod recovery;
mod stock;
mod studio;
mod support;
