//! The conversation at the gates, in one place: [`intent`] reads what a person's message means
//! (approve, regenerate with a note, edit a field, a question) from an embedder and a lexicon,
//! and [`conversation`] acts on it in an episode and answers; a regenerate it is not sure of is
//! first proposed and [`confirm`]ed.

pub mod confirm;
pub mod conversation;
mod fields;
pub mod intent;
pub mod show;
