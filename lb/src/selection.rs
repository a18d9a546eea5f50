//! Choosing a backend for a request, one module per algorithm. Each chooses among the
//! usable backends not already tried for this request, and answers `None` when there is
//! none (the request then gets 503 at once).

mod least_connections;
mod round_robin;
mod weighted;

use std::sync::Arc;

use crate::backend::Backend;
use crate::config::Algorithm;

pub trait Selection: Send + Sync {
    fn select(&self, backends: &[Arc<Backend>], tried: &[usize]) -> Option<usize>;
}

pub fn new(algorithm: Algorithm) -> Box<dyn Selection> {
    match algorithm {
        Algorithm::RoundRobin => Box::new(round_robin::RoundRobin::default()),
        Algorithm::LeastConnections => Box::new(least_connections::LeastConnections),
        Algorithm::Weighted => Box::new(weighted::Weighted),
    }
}

/// Whether backend `i` may take this request.
fn candidate(backends: &[Arc<Backend>], tried: &[usize], i: usize) -> bool {
    backends[i].usable() && !tried.contains(&i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zato_api::lb::BackendSource;

    pub fn backends(weights: &[u32]) -> Vec<Arc<Backend>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let b = Backend::new(format!("h:{i}"), None, BackendSource::Static, *w);
                b.checked(true, 1, 1);
                Arc::new(b)
            })
            .collect()
    }

    pub fn spread(s: &dyn Selection, backends: &[Arc<Backend>], n: usize) -> Vec<usize> {
        let mut counts = vec![0; backends.len()];
        for _ in 0..n {
            counts[s.select(backends, &[]).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn every_algorithm_skips_what_is_down_or_tried_and_says_when_none_is_left() {
        for algorithm in [
            Algorithm::RoundRobin,
            Algorithm::LeastConnections,
            Algorithm::Weighted,
        ] {
            let s = new(algorithm);
            let list = backends(&[1, 1, 1]);
            list[1].fail_passively();
            for _ in 0..10 {
                let chosen = s.select(&list, &[0]).unwrap();
                assert_eq!(chosen, 2, "{algorithm:?}");
            }
            assert_eq!(s.select(&list, &[0, 2]), None, "{algorithm:?}");
            assert_eq!(s.select(&[], &[]), None, "{algorithm:?}");
        }
    }
}
