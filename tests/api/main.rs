//! Integration tests: the real server over real HTTP.

mod cli;
mod concurrency;
mod ensims_extensions;
mod ensims_sessions;
mod ensims_user;
mod helpers;
mod tokens;
mod userapi_actions;
mod userapi_auth;
