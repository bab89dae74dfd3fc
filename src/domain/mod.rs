//! Domain values that are validated once, at the edge: ids, emails,
//! passwords, names and the permission catalogue. Anything that holds one of
//! these types has already been checked, so the layers below never re-check.

pub mod email;
pub mod ids;
pub mod money;
pub mod name;
pub mod password;
pub mod permission;
pub mod slug;
pub mod status;
pub mod text;
pub mod time;

pub use email::Email;
pub use ids::{
    AgentId, AgentRunId, ApiKeyId, AppInstanceId, InvitationId, LedgerEntryId, MembershipId,
    ProjectId, ProjectKeyId, RoleId, TopUpId, UserId, WorkspaceId,
};
pub use money::Money;
pub use name::PersonName;
pub use password::Password;
pub use permission::{Permission, PermissionSet, SystemRole};
pub use slug::Slug;
pub use status::{
    AgentStatus, ApiKeyKind, InvitationStatus, LedgerKind, MembershipStatus, TopUpStatus,
    UserStatus, WorkspaceKind, WorkspaceStatus,
};
pub use text::free_text;

/// Validation messages per form field, in the order they were found.
/// Domain functions return it; templates show each message beside its field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One message on one field (`"form"` for the form as a whole).
    pub fn of(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// Records a message for `field` (the first message per field wins).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    /// Records the error of a failed parse, passing the value through.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &'static str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed.map_err(|e| self.add(field, e.to_string())).ok()
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Whether the form was valid.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All messages, for JSON errors.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(f, m)| (*f, m.as_str()))
    }
}
