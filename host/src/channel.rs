//! Channels: how requests reach services. Only [`http`] builds HTTP responses.

pub mod http;
