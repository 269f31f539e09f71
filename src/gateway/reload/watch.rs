//! Watching the configuration file (feature `watch`): [`ReloadHandle::watch`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::ReloadHandle;

/// How long the directory must be quiet after a change before the file is read: editors and
/// deployment tools write a file in several steps (truncate, write, rename).
const QUIET: Duration = Duration::from_millis(250);

/// Why [`ReloadHandle::watch`] could not watch.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchError {
    /// The gateway was not read from a file.
    NoFile,
    /// The operating system would not watch the file's directory.
    Notify(notify::Error),
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFile => f.write_str("expected a gateway read from a file (Gateway::from_file) to watch"),
            Self::Notify(e) => write!(f, "cannot watch the configuration file: {e}"),
        }
    }
}

impl std::error::Error for WatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoFile => None,
            Self::Notify(e) => Some(e),
        }
    }
}

/// Reloads a gateway when its file changes, until it is dropped. Made by
/// [`ReloadHandle::watch`].
pub struct Watcher {
    notify: Option<RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
    file: PathBuf,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").field("file", &self.file).finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Dropping notify's watcher drops the sender its callback holds: the thread sees
        // the channel close and ends.
        drop(self.notify.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ReloadHandle {
    /// Reloads the gateway whenever its file's content changes (feature `watch`), until the
    /// returned [`Watcher`] is dropped: keep it alive as long as you serve.
    ///
    /// The file's directory is watched, not the file, so that a file replaced by a rename
    /// (as editors, `kubectl` config maps and deployment tools do) is seen too. Once the
    /// directory has been quiet for a quarter of a second, the file is read; if its content
    /// differs from what was last read, the gateway is reloaded as by
    /// [`reload`](Self::reload): a bad file is refused (logged as a warning) and the
    /// configuration in force stays until a good one is written.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = tollgate::Gateway::from_file("gateway.yaml")?.into_layer();
    /// let _watching = layer.reload_handle().watch()?;
    /// // ... serve with `layer` while `_watching` lives
    /// # Ok(())
    /// # }
    /// ```
    pub fn watch(&self) -> Result<Watcher, WatchError> {
        let file = self.source().ok_or(WatchError::NoFile)?;
        let dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let (changed, changes) = mpsc::channel::<()>();
        let mut notify = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reading the file is an access event itself: only changes count.
            if event.is_ok_and(|e| !matches!(e.kind, EventKind::Access(_))) {
                let _ = changed.send(());
            }
        })
        .map_err(WatchError::Notify)?;
        notify.watch(&dir, RecursiveMode::NonRecursive).map_err(WatchError::Notify)?;
        let handle = self.clone();
        let watched = file.clone();
        let thread = std::thread::Builder::new()
            .name("tollgate-watch".into())
            .spawn(move || follow(&handle, &watched, &changes))
            .map_err(|e| WatchError::Notify(notify::Error::io(e)))?;
        tracing::info!(target: "tollgate::gateway::reload", file = %file.display(), "watching the gateway's file");
        Ok(Watcher { notify: Some(notify), thread: Some(thread), file })
    }
}

/// The watching thread: after each burst of changes, reloads if the content is new.
fn follow(handle: &ReloadHandle, file: &Path, changes: &mpsc::Receiver<()>) {
    let mut last: Option<Vec<u8>> = None;
    while changes.recv().is_ok() {
        loop {
            match changes.recv_timeout(QUIET) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let content = std::fs::read(file).ok();
        if content.is_some() && content == last {
            continue;
        }
        // a refusal is logged by `reload`; the next change is read again
        let _ = handle.reload();
        last = content;
    }
}
