//! Framework-free account types and the validation rules both dialects share.

pub mod account;
mod common_passwords;
pub mod email;
pub mod password;
pub mod profile;
pub mod session;
pub mod username;

pub use account::{Account, AccountKind, NewAccount, Role};
pub use email::Email;
pub use password::{PasswordPolicy, PolicyViolation};
pub use profile::{AccountPatch, FieldError, ProfileInput, TextField};
pub use session::Session;
pub use username::Username;
