//! The looking glass's own worker threads, at the lowest CPU priority (`SCHED_IDLE`, else
//! nice 19): whatever the request load, they only get CPU time the RIB shards and the
//! session tasks leave unused, so a flood of requests cannot slow UPDATE processing. A
//! bounded queue feeds them; a full queue answers "busy".

#![allow(unsafe_code)]

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tracing::{debug, warn};

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Clone)]
pub struct Pool {
    tx: SyncSender<Job>,
}

/// Lowers the calling thread's CPU priority (Linux: scheduling attributes are per thread).
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system calls on the calling thread (pid 0) with a valid parameter.
    let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0;
    if !idle {
        // SAFETY: as above; `who` 0 is the calling thread under NPTL.
        let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
        if r != 0 {
            warn!("looking glass: cannot lower the worker threads' priority");
        }
    }
    debug!(sched_idle = idle, "looking-glass worker started");
}

fn work(rx: Arc<Mutex<Receiver<Job>>>) {
    lower_priority();
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        job();
    }
}

impl Pool {
    /// `threads` workers (at least one) and room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Pool> {
        let (tx, rx) = sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("peerex-lg-{i}"))
                .spawn(move || work(rx))?;
        }
        Ok(Pool { tx })
    }

    /// Queues `f`; false when the queue is full or the workers are gone.
    pub fn try_run(&self, f: impl FnOnce() + Send + 'static) -> bool {
        match self.tx.try_send(Box::new(f)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
