//! The store's own tokio runtime, where its connections live, and the two ways in: awaiting a
//! task on it from async code, and waiting for one from the `Store`'s synchronous reads (called
//! from inside the engine's runtime or outside any).

use std::future::Future;

use showrunner_engine::StoreError;
use tokio::runtime::{Builder, Handle, Runtime};

/// A runtime owned by one store; shut down in the background when the store is dropped (a
/// runtime may not be dropped where blocking is not allowed, such as inside another runtime).
pub(super) struct Bridge {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Bridge {
    /// A runtime of two worker threads named `showrunner-pg`.
    pub(super) fn new() -> Result<Self, StoreError> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("showrunner-pg")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                context: "starting the PostgreSQL store's runtime".into(),
                source,
            })?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Calls `start` inside the store's runtime (for what spawns its tasks there).
    pub(super) fn enter<T>(&self, start: impl FnOnce() -> T) -> T {
        let _inside = self.handle.enter();
        start()
    }

    /// Runs `task` on the store's runtime and awaits it from any runtime.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.handle.spawn(task).await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `task` on the store's runtime and blocks this thread until it ends. The thread only
    /// waits on a channel, so this works inside another runtime's worker (which it holds up for
    /// the length of one query) as well as outside any.
    pub(super) fn wait<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = answer.send(task.await);
        });
        answered.recv().map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
