//! Newtype ids, one per table, so that a `UserId` can never be passed where a
//! `WorkspaceId` is expected. They are UUID v7 (time-ordered, so indexes stay
//! compact) stored as canonical lowercase text, the one form both database
//! backends of the `MultiConnection` can bind.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
            serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = Text)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// Deserialising validates like [`parse`](Self::parse) does.
        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(input: String) -> Result<Self, String> {
                Self::parse(&input).ok_or_else(|| format!("not an id: {input:?}"))
            }
        }

        impl $name {
            /// A fresh, time-ordered id for a row about to be inserted.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Parses untrusted input (a form field, a URL segment); anything
            /// that is not a UUID is refused here so it never reaches a query.
            pub fn parse(input: &str) -> Option<Self> {
                uuid::Uuid::parse_str(input.trim()).ok().map(|id| Self(id.to_string()))
            }

            /// The canonical text form, as stored and as put in forms and URLs.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                String::from_sql(bytes).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a person's account.
    UserId
);
id_type!(
    /// Identifies a workspace: personal, organization or team.
    WorkspaceId
);
id_type!(
    /// Identifies a role, which always belongs to one workspace.
    RoleId
);
id_type!(
    /// Identifies one user's membership of one workspace.
    MembershipId
);
id_type!(
    /// Identifies an invitation to a workspace (not its link's token, which
    /// is secret: only its hash is kept). Resend, revoke, the outbox and
    /// the audit log name an invitation by it.
    InvitationId
);
id_type!(
    /// Identifies a project, which belongs to one workspace at a time.
    ProjectId
);
id_type!(
    /// Identifies a member's API key (not the key itself, which is secret).
    ApiKeyId
);
id_type!(
    /// Identifies an agent, which belongs to one workspace at a time.
    AgentId
);
id_type!(
    /// Identifies one run of an agent, from a start to its stop.
    AgentRunId
);
id_type!(
    /// Identifies an installed instance of a catalogue app.
    AppInstanceId
);
id_type!(
    /// Identifies a project's API key (not the key itself: that is shown
    /// once and only its hash is kept).
    ProjectKeyId
);
id_type!(
    /// Identifies an entry of a wallet's ledger.
    LedgerEntryId
);
id_type!(
    /// Identifies a top-up: a payment asked of the provider, credited to
    /// the wallet when the provider's signed notification arrives.
    TopUpId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_uuids_in_any_case_and_normalises_them() {
        let id = WorkspaceId::parse(" 0190F0C4-8B0B-7C3A-9A77-6D1E2F3A4B5C ").expect("valid uuid");
        assert_eq!(id.as_str(), "0190f0c4-8b0b-7c3a-9a77-6d1e2f3a4b5c");
    }

    #[test]
    fn parse_refuses_anything_else() {
        assert!(UserId::parse("1 OR 1=1").is_none());
        assert!(UserId::parse("").is_none());
    }

    #[test]
    fn generated_ids_are_time_ordered() {
        let first = RoleId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = RoleId::generate();
        assert!(first < second);
    }
}
