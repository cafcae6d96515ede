//! The hand-offs to a peer's task — accepted connections from the listener, commands from
//! the operator and reload: a queue with one receiver and at most `cap` items waiting.
//! `try_send` refuses beyond that; `send` waits for room.
//!
//! It owns only that queue and its wake-ups. It exists because a tokio channel allocates its
//! first block of 32 slots and its padded state up front, about 1.6 KiB per channel and
//! configured peer, while a peer of an exchange sees a command or a second connection
//! rarely: this queue costs about a hundred bytes until something waits in it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::sync::Notify;

struct Queue<T> {
    items: VecDeque<T>,
    /// The other side is gone: nothing more arrives (sender) or is taken (receiver).
    closed: bool,
    /// The receiver's task, waiting for an item.
    waiting: Option<Waker>,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Rung when an item is taken or the receiver goes (for `send`).
    room: Notify,
    cap: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // The lock is held only to move an item; a panic while holding it cannot leave the
        // queue half-changed, so a poisoned lock is used as it is.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the receiver (after the lock is released).
    fn wake(waiting: Option<Waker>) {
        if let Some(w) = waiting {
            w.wake();
        }
    }
}

/// The sending side (the peer's handle, used by the listener).
pub struct InboxSender<T>(Arc<Shared<T>>);

/// The receiving side (the peer's task).
pub struct Inbox<T>(Arc<Shared<T>>);

/// A queue that holds at most `cap` items.
pub fn inbox<T>(cap: usize) -> (InboxSender<T>, Inbox<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            closed: false,
            waiting: None,
        }),
        room: Notify::new(),
        cap,
    });
    (InboxSender(shared.clone()), Inbox(shared))
}

impl<T> InboxSender<T> {
    /// Queues `t`, or gives it back when the queue is full or the receiver is gone.
    pub fn try_send(&self, t: T) -> Result<(), T> {
        let waiting = {
            let mut q = self.0.lock();
            if q.closed || q.items.len() >= self.0.cap {
                return Err(t);
            }
            q.items.push_back(t);
            q.waiting.take()
        };
        Shared::<T>::wake(waiting);
        Ok(())
    }

    /// Queues `t`, waiting while the queue is full; gives it back when the receiver is gone.
    pub async fn send(&self, t: T) -> Result<(), T> {
        loop {
            let room = self.0.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut q = self.0.lock();
                if q.closed {
                    return Err(t);
                }
                if q.items.len() < self.0.cap {
                    q.items.push_back(t);
                    let waiting = q.waiting.take();
                    drop(q);
                    Shared::<T>::wake(waiting);
                    return Ok(());
                }
            }
            room.await;
        }
    }
}

impl<T> Drop for InboxSender<T> {
    fn drop(&mut self) {
        let waiting = {
            let mut q = self.0.lock();
            q.closed = true;
            q.waiting.take()
        };
        Shared::<T>::wake(waiting);
    }
}

impl<T> fmt::Debug for InboxSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InboxSender")
    }
}

impl<T> Inbox<T> {
    /// The next item; `None` once the sender is gone and the queue is empty. Cancel-safe:
    /// an item is taken only when this returns it. Cheap to poll while empty (one
    /// uncontended lock), as a session's `select!` does on every turn.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| {
            let mut q = self.0.lock();
            if let Some(t) = q.items.pop_front() {
                drop(q);
                self.0.room.notify_waiters();
                return Poll::Ready(Some(t));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            // Looked at and registered under the same lock: a send cannot slip between.
            match &q.waiting {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => q.waiting = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let items = {
            let mut q = self.0.lock();
            q.closed = true;
            std::mem::take(&mut q.items)
        };
        drop(items);
        self.0.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn items_arrive_in_order_up_to_the_cap_and_end_when_the_sender_goes() {
        let (tx, mut rx) = inbox::<u32>(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(3), "full");
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(tx.try_send(4), Ok(()));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(4));
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_and_a_cancelled_wait_loses_nothing() {
        let (tx, mut rx) = inbox::<u32>(2);
        let waited = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await;
        assert!(waited.is_err(), "nothing sent yet");
        let task = tokio::spawn(async move { rx.recv().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(tx.try_send(7), Ok(()));
        assert_eq!(task.await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn send_waits_for_room_and_fails_once_the_receiver_is_gone() {
        let (tx, mut rx) = inbox::<u32>(1);
        let tx = Arc::new(tx);
        assert_eq!(tx.send(1).await, Ok(()));
        let t2 = tx.clone();
        let second = tokio::spawn(async move { t2.send(2).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!second.is_finished(), "waits while full");
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(second.await.unwrap(), Ok(()));
        let t3 = tx.clone();
        let third = tokio::spawn(async move { t3.send(3).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(rx);
        assert_eq!(third.await.unwrap(), Err(3));
    }

    #[tokio::test]
    async fn a_gone_receiver_refuses_and_drops_what_waited() {
        let (tx, rx) = inbox::<Arc<()>>(2);
        let item = Arc::new(());
        assert!(tx.try_send(item.clone()).is_ok());
        drop(rx);
        assert_eq!(Arc::strong_count(&item), 1, "the queued item was dropped");
        assert!(tx.try_send(item).is_err());
    }
}
