//! The `types` interface has no functions; its `Host` trait is empty.

use crate::runtime::Ctx;
use crate::runtime::bindings::zato::service::types::Host;

impl Host for Ctx {}
