//! Integration tests: real sled stores on disk, real engine, real processes for crashes.

mod actions;
mod bounds;
mod concurrency;
mod connections;
mod crash;
mod definitions;
mod disk;
mod document;
mod events;
mod gc;
mod http;
mod invalidation;
mod keys;
mod local_models;
mod ownership;
mod recovery;
mod references;
mod retries;
mod served;
mod site;
mod stock;
mod studio;
mod support;
mod torture;
mod uploads;
