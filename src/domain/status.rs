//! Statuses and kinds, as enums instead of strings: a typo is a compile
//! error, a `match` must cover every case, and the text stored in the
//! database (the same on both backends) is converted in one place, here.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// Declares an enum stored as one of a fixed set of texts.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
            serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The value for a stored text; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                Self::parse(&text).ok_or_else(|| {
                    format!("unknown {} {text:?}", stringify!($name)).into()
                })
            }
        }
    };
}

text_enum!(
    /// Whether a member may enter the workspace right now.
    MembershipStatus {
        /// A member in good standing.
        Active = "active",
        /// Deactivated by an admin: keeps the seat, can't enter.
        Inactive = "inactive",
    }
);

text_enum!(
    /// Whether an account may sign in.
    UserStatus {
        /// May sign in.
        Active = "active",
        /// Disabled by an operator.
        Disabled = "disabled",
    }
);

text_enum!(
    /// Where an invitation stands.
    InvitationStatus {
        /// Sent, not yet answered, not expired.
        Pending = "pending",
        /// The invitee joined.
        Accepted = "accepted",
        /// The invitee said no.
        Declined = "declined",
        /// Withdrawn by a member (or automatically, when the sender lost the right).
        Revoked = "revoked",
        /// Not answered in time.
        Expired = "expired",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_what_it_stores() {
        for status in [MembershipStatus::Active, MembershipStatus::Inactive] {
            assert_eq!(MembershipStatus::parse(status.as_str()), Some(status));
        }
        for status in [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Declined,
            InvitationStatus::Revoked,
            InvitationStatus::Expired,
        ] {
            assert_eq!(InvitationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(UserStatus::parse("disabled"), Some(UserStatus::Disabled));
        assert_eq!(UserStatus::parse("Active"), None);
    }
}
