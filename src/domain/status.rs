//! Statuses and kinds, as enums instead of strings: a typo is a compile
//! error, a `match` must cover every case, and the text stored in the
//! database (the same on both backends) is converted in one place, the
//! `text_enum!` macro here (`domain::permission` declares the system roles
//! with it too).

/// Declares an enum stored as one of a fixed set of texts. Also used by
/// `domain::permission` for the system roles.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
            serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
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

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                Self::parse(&text).ok_or_else(|| {
                    format!("unknown {} {text:?}", stringify!($name)).into()
                })
            }
        }
    };
}

pub(crate) use text_enum;

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

text_enum!(
    /// What a workspace is: it decides which settings and pages it has.
    WorkspaceKind {
        /// The one workspace every user has for themselves.
        Personal = "personal",
        /// A shared workspace with members, roles and billing.
        Organization = "organization",
        /// A group of members inside an organization.
        Team = "team",
    }
);

impl WorkspaceKind {
    /// Whether this is a user's personal workspace (templates name it
    /// "Personal" instead of its stored name).
    pub fn is_personal(self) -> bool {
        self == WorkspaceKind::Personal
    }

    /// Whether this is a team inside an organization (it has no slug,
    /// invitations or owner of its own).
    pub fn is_team(self) -> bool {
        self == WorkspaceKind::Team
    }
}

text_enum!(
    /// Whether an agent runs (and counts against its workspace's limits).
    AgentStatus {
        /// Running since its `started_at`.
        Running = "running",
        /// Not running.
        Stopped = "stopped",
    }
);

text_enum!(
    /// Whether a workspace can be entered and used.
    WorkspaceStatus {
        /// In use.
        Active = "active",
        /// Enterable, but charges are refused until its balance is topped up.
        Suspended = "suspended",
        /// Left every switcher; its owner may restore it until retention ends.
        Archived = "archived",
    }
);

text_enum!(
    /// What moved a wallet's balance (a ledger entry's kind).
    LedgerKind {
        /// Money paid in through the payment provider.
        TopUp = "top_up",
        /// A coupon redeemed.
        Coupon = "coupon",
        /// Usage charged by the platform through the charge endpoint.
        Charge = "charge",
        /// A charge given back.
        Refund = "refund",
        /// A correction by an operator.
        Adjustment = "adjustment",
        /// A plan's monthly fee.
        PlanFee = "plan_fee",
        /// Funds moved in from the organization's wallet.
        TransferIn = "transfer_in",
        /// Funds moved out to a team's wallet.
        TransferOut = "transfer_out",
    }
);

text_enum!(
    /// Where a top-up stands with the payment provider.
    TopUpStatus {
        /// Asked of the provider; not credited until its notification arrives.
        Pending = "pending",
        /// Paid and credited to the wallet.
        Succeeded = "succeeded",
        /// Refused by the card's issuer (or for insufficient funds).
        Declined = "declined",
    }
);

impl WorkspaceStatus {
    /// Whether it is suspended (the layout shows a banner saying why).
    pub fn is_suspended(self) -> bool {
        self == WorkspaceStatus::Suspended
    }
}

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
        for kind in [
            WorkspaceKind::Personal,
            WorkspaceKind::Organization,
            WorkspaceKind::Team,
        ] {
            assert_eq!(WorkspaceKind::parse(kind.as_str()), Some(kind));
        }
        for status in [
            WorkspaceStatus::Active,
            WorkspaceStatus::Suspended,
            WorkspaceStatus::Archived,
        ] {
            assert_eq!(WorkspaceStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(UserStatus::parse("disabled"), Some(UserStatus::Disabled));
        assert_eq!(UserStatus::parse("Active"), None);
    }
}

text_enum!(
    /// What a member's API key is for: each kind has its own rate limit.
    ApiKeyKind {
        /// General API access: scripts, integrations, CI.
        Standard = "standard",
        /// An AI system or automated tool acting for the member.
        AiAgent = "ai_agent",
    }
);
