//! Smooth weighted round-robin (as nginx's): each backend in turn as often as its
//! weight says, interleaved rather than in bursts (weights 5, 1, 1 give a a b a c a a,
//! not a a a a a b c).

use std::sync::Arc;

use super::{Selection, candidate};
use crate::backend::{Backend, lock};

pub struct Weighted;

impl Selection for Weighted {
    fn select(&self, backends: &[Arc<Backend>], tried: &[usize]) -> Option<usize> {
        // The running weights change together, so one chooser at a time.
        static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = lock(&TURN);
        let candidates: Vec<usize> = (0..backends.len())
            .filter(|&i| candidate(backends, tried, i))
            .collect();
        let total: i64 = candidates
            .iter()
            .map(|&i| i64::from(backends[i].weight))
            .sum();
        let mut best: Option<(usize, i64)> = None;
        for &i in &candidates {
            let mut current = lock(&backends[i].current_weight);
            *current += i64::from(backends[i].weight);
            if best.is_none_or(|(_, w)| *current > w) {
                best = Some((i, *current));
            }
        }
        let (chosen, _) = best?;
        *lock(&backends[chosen].current_weight) -= total;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{backends, spread};
    use super::*;

    #[test]
    fn each_backend_gets_its_share_interleaved() {
        let list = backends(&[5, 1, 1]);
        let order: Vec<usize> = (0..7)
            .map(|_| Weighted.select(&list, &[]).unwrap())
            .collect();
        assert_eq!(order, [0, 0, 1, 0, 2, 0, 0]);
        let list = backends(&[3, 1]);
        assert_eq!(spread(&Weighted, &list, 400), [300, 100]);
    }
}
