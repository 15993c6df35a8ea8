//! Database errors as the engine's [`StoreError`]s.

use showrunner_engine::StoreError;

/// A database error as a [`StoreError`]: `Unavailable` when the server cannot be reached or
/// is shutting down or starting (the operation may succeed in a moment), else `Backend`.
pub(super) fn backend<E: std::fmt::Display + 'static>(e: E) -> StoreError {
    if let Some(pg) = (&e as &dyn std::any::Any).downcast_ref::<tokio_postgres::Error>() {
        // admin_shutdown, crash_shutdown, cannot_connect_now
        let shutting = pg
            .code()
            .is_some_and(|c| matches!(c.code(), "57P01" | "57P02" | "57P03"));
        let text = causes(pg);
        if pg.is_closed() || shutting || (pg.code().is_none() && text.contains("os error")) {
            return StoreError::Unavailable(text);
        }
    }
    StoreError::Backend(e.to_string())
}

/// An error with its causes, `outer: inner: …` (PostgreSQL's client keeps the reason, such as
/// a refused connection, in the source).
pub(super) fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}
