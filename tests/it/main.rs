//! Integration tests: real sled stores on disk, real engine, real processes for crashes.

mod actions;
mod bounds;
mod concurrency;
mod crash;
mod definitions;
mod document;
mod events;
mod http;
mod invalidation;
mod local_models;
mod recovery;
mod stock;
mod studio;
mod support;
mod uploads;
