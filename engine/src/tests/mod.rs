//! Tests of the pure episode core: a simulated runner ([`harness`]), random actions
//! ([`actions`]), the invariants checked after every step ([`invariants`]), the properties that
//! drive them ([`properties`]), and targeted tests of single rules ([`rules`]).

mod actions;
mod harness;
mod invariants;
mod properties;
mod rules;
