//! The ENSIMS profile fields and the partial update (`AccountPatch`) that changes them.

use super::{Account, Change, Email, Role};

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The optional text fields of the ENSIMS account object, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextField {
    /// `title`.
    Title,
    /// `firstname`.
    Firstname,
    /// `middlename`.
    Middlename,
    /// `surname` (userapi's `lastname`).
    Surname,
    /// `nickname`.
    Nickname,
    /// `position`.
    Position,
    /// `company`.
    Company,
    /// `tel`.
    Tel,
    /// `address`.
    Address,
    /// `postcode`.
    Postcode,
    /// `country`.
    Country,
    /// `website`.
    Website,
    /// `twitter`.
    Twitter,
    /// `linkedin`.
    Linkedin,
}

impl TextField {
    /// How many text fields there are.
    pub const COUNT: usize = 14;

    /// Every text field, in wire order: the one list the columns, the rows and the wire
    /// object are built from.
    pub const ALL: [TextField; TextField::COUNT] = [
        TextField::Title,
        TextField::Firstname,
        TextField::Middlename,
        TextField::Surname,
        TextField::Nickname,
        TextField::Position,
        TextField::Company,
        TextField::Tel,
        TextField::Address,
        TextField::Postcode,
        TextField::Country,
        TextField::Website,
        TextField::Twitter,
        TextField::Linkedin,
    ];

    /// The wire name, which is also the column name.
    pub fn name(self) -> &'static str {
        match self {
            TextField::Title => "title",
            TextField::Firstname => "firstname",
            TextField::Middlename => "middlename",
            TextField::Surname => "surname",
            TextField::Nickname => "nickname",
            TextField::Position => "position",
            TextField::Company => "company",
            TextField::Tel => "tel",
            TextField::Address => "address",
            TextField::Postcode => "postcode",
            TextField::Country => "country",
            TextField::Website => "website",
            TextField::Twitter => "twitter",
            TextField::Linkedin => "linkedin",
        }
    }

    /// Position in [`TextField::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The longest value a field may hold, in characters.
    pub const MAX_LEN: usize = 255;
}

/// The profile part of an account (everything of the ENSIMS object but `email` and `jess_pwd`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The text fields, indexed like [`TextField::ALL`].
    pub texts: [Option<String>; TextField::COUNT],
    /// Whether the account uses JESS.
    pub use_jess: bool,
    /// The linked JESS user, set only by the JESS session call.
    pub jess_user: Option<String>,
}

impl Profile {
    /// One text field's value.
    pub fn get(&self, field: TextField) -> Option<&str> {
        self.texts[field.index()].as_deref()
    }

    /// Sets one text field.
    pub fn set(&mut self, field: TextField, value: Option<String>) {
        self.texts[field.index()] = value;
    }
}

/// A field value that breaks a rule; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The wire name of the field.
    pub field: &'static str,
    /// What is wrong, as a sentence fragment.
    pub problem: &'static str,
}

impl FieldError {
    /// A field error.
    pub fn new(field: &'static str, problem: &'static str) -> FieldError {
        FieldError { field, problem }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Field '{}' {}.", self.field, self.problem)
    }
}

/// Raw, type-checked input for a profile update, before the value rules run.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    /// Text fields given: `""` means clear.
    pub texts: Vec<(TextField, String)>,
    /// A new login email, if given.
    pub email: Option<String>,
    /// A new `use_jess`, if given.
    pub use_jess: Option<bool>,
}

/// A validated partial update: only the named fields change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPatch {
    /// Text fields to set (`None` clears).
    pub texts: Vec<(TextField, Option<String>)>,
    /// New login email.
    pub email: Option<Email>,
    /// New `use_jess`.
    pub use_jess: Option<bool>,
    /// New locale (already checked against the configured list).
    pub locale: Option<String>,
    /// New role.
    pub role: Option<Role>,
}

impl AccountPatch {
    /// The fields whose value the patch changes on `old`, for the audit trail.
    pub fn changes(&self, old: &Account) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut note = |field: &str, before: Option<&str>, after: Option<&str>| {
            if before != after {
                changes.push(Change::new(field, before, after));
            }
        };
        for (field, value) in &self.texts {
            note(field.name(), old.profile.get(*field), value.as_deref());
        }
        if let Some(email) = &self.email {
            note("email", Some(&old.email), Some(email.as_str()));
        }
        if let Some(use_jess) = self.use_jess {
            note(
                "use_jess",
                Some(bool_str(old.profile.use_jess)),
                Some(bool_str(use_jess)),
            );
        }
        if let Some(locale) = &self.locale {
            note("locale", Some(&old.locale), Some(locale));
        }
        if let Some(role) = self.role {
            note("role", Some(old.role.as_str()), Some(role.as_str()));
        }
        changes
    }

    /// Applies the patch to an in-memory account, as the database applies it to the row.
    pub fn apply(&self, account: &mut Account) {
        for (field, value) in &self.texts {
            account.profile.set(*field, value.clone());
        }
        if let Some(email) = &self.email {
            email.as_str().clone_into(&mut account.email);
        }
        if let Some(use_jess) = self.use_jess {
            account.profile.use_jess = use_jess;
        }
        if let Some(locale) = &self.locale {
            account.locale.clone_from(locale);
        }
        if let Some(role) = self.role {
            account.role = role;
        }
        account.version += 1;
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
            && self.email.is_none()
            && self.use_jess.is_none()
            && self.locale.is_none()
            && self.role.is_none()
    }
}

/// Checks a free-text profile value: at most 255 characters, no control characters.
pub fn check_text(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.chars().count() > TextField::MAX_LEN {
        return Err(FieldError::new(field, "is longer than 255 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(())
}

impl ProfileInput {
    /// Applies the value rules; `current_email` is accepted unchanged whatever the rules say.
    pub fn validate(self, current_email: &str) -> Result<AccountPatch, FieldError> {
        let mut patch = AccountPatch {
            use_jess: self.use_jess,
            ..AccountPatch::default()
        };
        for (field, value) in self.texts {
            check_text(field.name(), &value)?;
            patch
                .texts
                .push((field, (!value.is_empty()).then_some(value)));
        }
        if let Some(email) = self.email {
            if email.is_empty() {
                return Err(FieldError::new("email", "cannot be cleared"));
            }
            if email != current_email {
                let parsed = Email::parse(&email)
                    .map_err(|_| FieldError::new("email", "is not a valid email address"))?;
                patch.email = Some(parsed);
            }
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(texts: &[(TextField, &str)], email: Option<&str>) -> ProfileInput {
        ProfileInput {
            texts: texts.iter().map(|(f, v)| (*f, (*v).to_string())).collect(),
            email: email.map(str::to_owned),
            use_jess: None,
        }
    }

    #[test]
    fn an_empty_string_clears_a_text_field() {
        let patch = input(&[(TextField::Title, "")], None)
            .validate("a@b")
            .unwrap();
        assert_eq!(patch.texts, vec![(TextField::Title, None)]);
    }

    #[test]
    fn the_email_cannot_be_cleared() {
        let err = input(&[], Some("")).validate("a@b").unwrap_err();
        assert_eq!(err.to_string(), "Field 'email' cannot be cleared.");
    }

    #[test]
    fn the_current_email_is_accepted_unchanged() {
        let patch = input(&[], Some("odd@@value"))
            .validate("odd@@value")
            .unwrap();
        assert!(patch.is_empty());
    }

    #[test]
    fn overlong_and_control_character_values_are_refused() {
        let long = "x".repeat(256);
        let err = input(&[(TextField::Tel, &long)], None)
            .validate("a@b")
            .unwrap_err();
        assert_eq!(err.field, "tel");
        let err = input(&[(TextField::Company, "a\nb")], None)
            .validate("a@b")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Field 'company' contains control characters."
        );
        assert!(input(&[(TextField::Tel, &"é".repeat(255))], None)
            .validate("a@b")
            .is_ok());
    }
}
