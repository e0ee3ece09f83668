//! Named network namespaces (created and removed with iproute2) and the threads that live
//! in them, each running a current-thread Tokio runtime that jobs are sent to.

use std::fs::File;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Once};
use std::thread::JoinHandle;

use nix::sched::CloneFlags;
use tokio::sync::mpsc;
use tokio::task::LocalSet;

/// Prefix of every namespace this crate creates: `connie-<pid>-<counter>`.
const PREFIX: &str = "connie-";
/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static SWEEP: Once = Once::new();

/// Runs `ip <args>`; an error carries the command line and what `ip` printed.
pub(crate) fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip`: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// A named network namespace, removed (`ip netns del`) on drop.
#[derive(Debug)]
pub(crate) struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates `connie-<pid>-<counter><suffix>`, after removing (once per process) the
    /// namespaces that processes no longer running left behind.
    pub(crate) fn create(suffix: &str) -> io::Result<Namespace> {
        SWEEP.call_once(sweep_stale);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}{suffix}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Namespace { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Runs `ip -n <this namespace> <args>`.
    pub(crate) fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(error) = ip(&["netns", "del", &self.name]) {
            tracing::warn!(ns = %self.name, %error, "cannot remove lab namespace");
        }
    }
}

/// Removes `connie-<pid>-…` namespaces whose process is gone (a crashed or killed run).
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            match ip(&["netns", "del", &name]) {
                Ok(()) => tracing::debug!(ns = %name, "removed a stale lab namespace"),
                Err(error) => tracing::debug!(ns = %name, %error, "stale namespace stays"),
            }
        }
    }
}

/// Moves the calling thread into the network namespace at `path`: sockets and TUN devices
/// it creates afterwards belong to that namespace.
pub(crate) fn enter(path: &Path) -> io::Result<()> {
    let file = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| io::Error::other(format!("setns({}) failed: {e}", path.display())))
}

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// An OS thread, optionally moved into a namespace, running a current-thread Tokio runtime
/// with a `LocalSet`: each job becomes a local task. Dropping it ends the runtime (aborting
/// every task, so the sockets they own close) and joins the thread.
#[derive(Debug)]
pub(crate) struct NsThread {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl NsThread {
    pub(crate) fn spawn(label: &str, ns: Option<PathBuf>) -> io::Result<NsThread> {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name(label.to_owned())
            .spawn(move || {
                let setup = ns.as_deref().map_or(Ok(()), enter).and_then(|()| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                });
                let runtime = match setup {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                LocalSet::new().block_on(&runtime, async move {
                    while let Some(job) = rx.recv().await {
                        tokio::task::spawn_local(job());
                    }
                });
            })?;
        let thread = NsThread {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        ready_rx
            .recv()
            .map_err(|_| io::Error::other(format!("lab thread {label} died while starting")))??;
        Ok(thread)
    }

    /// Runs `job` on this thread and blocks until its future is done.
    ///
    /// Fails if the thread is gone or the job panicked.
    pub(crate) fn run<F, Fut, T>(&self, job: F) -> io::Result<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std_mpsc::channel();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(job().await);
            })
        });
        let gone = || io::Error::other("lab thread stopped or its job panicked");
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())
    }
}

impl Drop for NsThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("a lab thread panicked");
            }
        }
    }
}
