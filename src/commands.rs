//! One module per `zato` command.

pub mod apispec;
pub mod build;
pub mod ca;
pub mod channel;
pub mod deploy;
pub mod dictionary;
pub mod enmasse;
pub mod info;
pub mod lb;
pub mod new;
pub mod outconn;
pub mod quickstart;
pub mod rate_limit;
pub mod scheduler;
pub mod security;
pub mod service;
pub mod start;
pub mod stats;
pub mod user;
pub mod web_admin;
