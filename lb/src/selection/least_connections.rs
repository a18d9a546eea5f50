//! The usable backend with the fewest requests in flight (the first of them on a tie).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Selection, candidate};
use crate::backend::Backend;

pub struct LeastConnections;

impl Selection for LeastConnections {
    fn select(&self, backends: &[Arc<Backend>], tried: &[usize]) -> Option<usize> {
        (0..backends.len())
            .filter(|&i| candidate(backends, tried, i))
            .min_by_key(|&i| backends[i].in_flight.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::backends;
    use super::*;
    use crate::backend::InFlight;

    #[test]
    fn the_backend_with_the_fewest_requests_in_flight_is_chosen() {
        let list = backends(&[1, 1, 1]);
        let _a = InFlight::new(Arc::clone(&list[0]));
        let _b = InFlight::new(Arc::clone(&list[0]));
        let _c = InFlight::new(Arc::clone(&list[1]));
        assert_eq!(LeastConnections.select(&list, &[]), Some(2));
        let _d = InFlight::new(Arc::clone(&list[2]));
        let _e = InFlight::new(Arc::clone(&list[2]));
        assert_eq!(LeastConnections.select(&list, &[]), Some(1));
    }
}
