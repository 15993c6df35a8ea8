//! Integration tests: real sled stores on disk, real engine, real processes for crashes.

mod actions;
mod beside;
mod bounds;
mod chat;
mod concurrency;
mod connections;
mod crash;
mod definitions;
mod disk;
mod document;
mod edits;
mod events;
mod facts;
mod gc;
mod http;
mod inbox;
#[path = "../../nodes/models/tests/installed/mod.rs"]
mod installed;
mod invalidation;
mod keys;
mod local_models;
mod notes;
mod ownership;
mod page;
mod recovery;
mod references;
mod retries;
mod screenplays;
mod served;
mod site;
mod stock;
mod studio;
mod support;
mod terminal_review;
mod torture;
mod uploads;
