//! The conversation at the gates, in one place: [`intent`] reads what a person's message means
//! (approve, regenerate with a note, edit a field, a question) from an embedder and a lexicon,
//! and [`conversation`] acts on it in an episode and answers.

pub mod conversation;
pub mod intent;
