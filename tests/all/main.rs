//! End-to-end tests of the whole system: one test binary, one module per area.
//!
//! Servers run in-process on 127.0.0.1:0 (or as real `zato` processes in `cli`), each
//! with its own temporary directory, SQLite ODB and pickup directory. The guest
//! components come from `zato-test-artifacts`, built once per test run.
mod admin;
mod amqp;
mod async_invoke;
mod channel_security;
mod channels;
mod cli;
mod cluster;
mod contract;
mod deploy;
mod dictionary;
mod guide;
mod harness;
mod hostile;
mod http;
mod jwt;
mod kv_lock;
mod languages;
mod lb;
mod lb_cli;
mod lb_netns;
mod lean;
mod metrics;
mod msg_channels_api;
mod new_projects;
mod openapi;
mod outconn_api;
mod outgoing_ftp;
mod outgoing_http;
mod outgoing_sql;
mod pickup;
mod rate_limits;
mod redeploy;
mod scheduler;
mod scheduler_api;
mod sdk;
mod security_api;
mod slow_clients;
mod soap_channel;
mod stats;
mod tls;
mod traces;
mod users;
mod versions;
mod wasi_http;
mod web_admin;
mod web_admin_browser;
mod web_admin_dictionaries;
mod web_admin_messaging;
mod web_admin_security;
mod web_admin_soap;
mod web_admin_stats;
mod zeromq;
