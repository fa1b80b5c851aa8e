//! Independent jobs on a few threads at once, their results in the order
//! of the jobs (so output assembled from them reads the same every time).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many jobs to run at once: one per CPU.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` of every item on up to `workers` threads; the results in the
/// items' order.
pub(crate) fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every item ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u64> = (0..7).collect();
        // Later items finish first.
        let out = map_ordered(&items, 3, |i| {
            std::thread::sleep(Duration::from_millis(30 - 4 * i));
            i * 10
        });
        assert_eq!(out, [0, 10, 20, 30, 40, 50, 60]);
        assert!(map_ordered(&[] as &[u8], 4, |_| ()).is_empty());
    }

    #[test]
    fn runs_up_to_workers_at_once() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let t0 = Instant::now();
        map_ordered(&[(); 6], 2, |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            running.fetch_sub(1, Ordering::SeqCst);
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert!(t0.elapsed() >= Duration::from_millis(150));
    }
}
