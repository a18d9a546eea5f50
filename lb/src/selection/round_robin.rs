//! Each usable backend in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Selection, candidate};
use crate::backend::Backend;

#[derive(Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Selection for RoundRobin {
    fn select(&self, backends: &[Arc<Backend>], tried: &[usize]) -> Option<usize> {
        let n = backends.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| candidate(backends, tried, i))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{backends, spread};
    use super::*;

    #[test]
    fn requests_go_to_each_backend_in_turn() {
        let list = backends(&[1, 5, 1]);
        assert_eq!(spread(&RoundRobin::default(), &list, 300), [100, 100, 100]);
    }
}
