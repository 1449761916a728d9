//! Framework-free account types and the validation rules both dialects share.

pub mod account;
pub mod audit;
mod common_passwords;
pub mod email;
pub mod password;
pub mod profile;
pub mod session;
pub mod throttle;
pub mod username;

pub use account::{Account, AccountKind, NewAccount, Role, UniqueField};
pub use audit::{Actor, AuditAction, AuditRecord, Change, Dialect};
pub use email::Email;
pub use password::{PasswordPolicy, PolicyViolation};
pub use profile::{AccountPatch, FieldError, ProfileInput, TextField};
pub use session::Session;
pub use throttle::ThrottlePolicy;
pub use username::Username;
