//! The permission catalogue: the one list of things a member may be allowed
//! to do. Handlers ask for a permission by name from here and never compare
//! role names, so a custom role works everywhere a system role does.

use std::fmt;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $key:literal, $group:literal, $label:literal; )*) => {
        /// One entry of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission {
            $( $(#[$doc])* $variant, )*
        }

        impl Permission {
            /// Every permission, in catalogue order (the order of the role editor).
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            /// The stable string stored in custom roles and API key scopes.
            pub fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key,)* }
            }

            /// The group it is shown under in the role editor.
            pub fn group(self) -> &'static str {
                match self { $(Permission::$variant => $group,)* }
            }

            /// What it allows, for people choosing it.
            pub fn label(self) -> &'static str {
                match self { $(Permission::$variant => $label,)* }
            }

            /// Looks a stored key up; unknown keys (from a newer version) are ignored.
            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some(Permission::$variant),)* _ => None }
            }
        }

        /// One marker type per permission, so a handler can name the
        /// permission it needs in its signature: `Permitted<require::AuditRead>`.
        pub mod require {
            $(
                $(#[$doc])*
                #[derive(Debug)]
                pub struct $variant;
                impl super::RequiredPermission for $variant {
                    const PERMISSION: super::Permission = super::Permission::$variant;
                }
            )*
        }
    };
}

catalogue! {
    /// Change the organization's name, slug, avatar and billing details.
    OrgUpdate = "org.update", "Organization", "Edit organization settings";
    /// Archive, restore or delete the organization (owner only).
    OrgDelete = "org.delete", "Organization", "Archive or delete the organization";
    /// Hand the organization to another member (owner only).
    OrgTransfer = "org.transfer", "Organization", "Transfer ownership";
    /// See who the members are.
    MembersRead = "members.read", "Members", "See members";
    /// Invite people by email.
    MembersInvite = "members.invite", "Members", "Invite members";
    /// Change roles, deactivate and remove members.
    MembersManage = "members.manage", "Members", "Manage members";
    /// Create and edit custom roles.
    RolesManage = "roles.manage", "Members", "Manage roles";
    /// Create and manage teams.
    TeamsManage = "teams.manage", "Members", "Manage teams";
    /// See the wallet, ledger and usage.
    BillingRead = "billing.read", "Billing", "See balance and usage";
    /// Top up, set spend limits and budget alerts.
    BillingManage = "billing.manage", "Billing", "Manage billing";
    /// See projects and agents.
    ResourcesRead = "resources.read", "Resources", "See projects and agents";
    /// Create, edit, start and stop agents and apps.
    ResourcesWrite = "resources.write", "Resources", "Run agents and apps";
    /// Create, edit and delete projects.
    ProjectsManage = "projects.manage", "Resources", "Manage projects";
    /// Set resource limits and quotas.
    ResourcesManage = "resources.manage", "Resources", "Set limits and quotas";
    /// Move projects and agents between workspaces.
    ResourcesTransfer = "resources.transfer", "Resources", "Transfer projects and agents";
    /// Create and revoke API keys.
    KeysManage = "keys.manage", "Resources", "Manage API keys";
    /// Read the audit log.
    AuditRead = "audit.read", "Security", "Read the audit log";
    /// Export the workspace's data.
    DataExport = "data.export", "Security", "Export data";
}

/// Ties a marker type of [`require`] to its permission.
pub trait RequiredPermission {
    /// The permission the marker stands for.
    const PERMISSION: Permission;
}

/// A refusal because the acting role lacks this permission: the web layer
/// answers it with 403 naming the permission, so the user knows what to ask
/// an admin for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("permission {0} required")]
pub struct Forbidden(pub Permission);

impl Permission {
    /// Permissions only the owner holds; no custom role can be given them.
    pub fn is_owner_only(self) -> bool {
        matches!(self, Permission::OrgDelete | Permission::OrgTransfer)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A set of permissions, as held by a role or an API key. A bit set: the
/// catalogue is small and sets are checked on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    /// No permissions at all: what a request is allowed by default.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every permission in the catalogue.
    pub fn all() -> Self {
        Permission::ALL.iter().copied().collect()
    }

    /// Whether the set allows `permission`.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & (1 << permission as u8) != 0
    }

    /// Whether every permission of `other` is also in this set.
    pub fn is_superset_of(self, other: PermissionSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together (role inheritance).
    pub fn union(self, other: PermissionSet) -> Self {
        Self(self.0 | other.0)
    }

    /// What both sets hold (what an editor may touch of a role).
    pub fn intersection(self, other: PermissionSet) -> Self {
        Self(self.0 & other.0)
    }

    /// What this set holds that `other` doesn't (what an edit adds).
    pub fn difference(self, other: PermissionSet) -> Self {
        Self(self.0 & !other.0)
    }

    /// Whether the set holds nothing.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// What a role allows: system roles from the catalogue, custom roles
    /// from their stored set.
    pub fn of_role(system_role: Option<SystemRole>, stored: &str) -> Self {
        match system_role {
            Some(system) => system.permissions(),
            None => Self::from_stored(stored),
        }
    }

    /// Parses the space-separated form stored in the database.
    pub fn from_stored(stored: &str) -> Self {
        stored
            .split_whitespace()
            .filter_map(Permission::from_key)
            .collect()
    }

    /// The space-separated form stored in the database.
    pub fn to_stored(self) -> String {
        self.iter()
            .map(Permission::key)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, p| bits | (1 << p as u8)))
    }
}

super::status::text_enum!(
    /// The roles every workspace has and nobody can edit, stored in
    /// `roles.system_key` (`NULL` for custom roles). Their permissions come
    /// from here, not from the database, so a new catalogue entry reaches
    /// every organization's admins without a data migration.
    SystemRole {
        /// Exactly one per organization; everything, including deleting it.
        Owner = "owner",
        /// Everything but deleting the organization and making owners.
        Admin = "admin",
        /// Works with resources; sees members; no billing or administration.
        Member = "member",
    }
);

impl SystemRole {
    /// Every system role, highest rank first (the order they are created in).
    pub const ALL: [SystemRole; 3] = [SystemRole::Owner, SystemRole::Admin, SystemRole::Member];

    /// Whether this is the member role (what the invite form offers first).
    pub fn is_member(self) -> bool {
        self == SystemRole::Member
    }

    /// The name shown in the UI.
    pub fn display_name(self) -> &'static str {
        match self {
            SystemRole::Owner => "Owner",
            SystemRole::Admin => "Admin",
            SystemRole::Member => "Member",
        }
    }

    /// The rank: a member acts only on ranks below their own.
    pub fn level(self) -> i32 {
        match self {
            SystemRole::Owner => 100,
            SystemRole::Admin => 80,
            SystemRole::Member => 10,
        }
    }

    /// What the role allows.
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            SystemRole::Owner => PermissionSet::all(),
            SystemRole::Admin => PermissionSet::all()
                .iter()
                .filter(|p| !p.is_owner_only())
                .collect(),
            // Not `projects.manage`: a custom role that may invite members
            // must hold everything the member role does, so widening it
            // would take that right from roles made before.
            SystemRole::Member => [MembersRead, ResourcesRead, ResourcesWrite]
                .into_iter()
                .collect(),
        }
    }
}

/// One role as inheritance sees it.
#[derive(Debug, Clone)]
pub struct InheritingRole<'a> {
    /// Its id.
    pub id: &'a str,
    /// Which system role it is; `None` for a custom role.
    pub system_key: Option<SystemRole>,
    /// The permissions chosen for it (system roles: ignored, the catalogue decides).
    pub own: PermissionSet,
    /// The role it inherits from.
    pub parent: Option<&'a str>,
}

/// What each role effectively holds: its own permissions plus those of
/// every role up its inheritance chain. The one definition used both to
/// store effective sets and to foresee what an edit would change; a cycle
/// (which the role rules refuse, but old data may hold) is cut where it
/// closes.
pub fn effective_permissions<'a>(
    roles: &[InheritingRole<'a>],
) -> std::collections::HashMap<&'a str, PermissionSet> {
    let by_id: std::collections::HashMap<&str, &InheritingRole<'a>> =
        roles.iter().map(|r| (r.id, r)).collect();
    let own = |role: &InheritingRole<'_>| match role.system_key {
        Some(system) => system.permissions(),
        None => role.own,
    };
    roles
        .iter()
        .map(|role| {
            let mut effective = own(role);
            let mut seen = vec![role.id];
            let mut parent = role.parent;
            while let Some(parent_id) = parent.filter(|p| !seen.contains(p)) {
                let Some(parent_role) = by_id.get(parent_id) else {
                    break;
                };
                effective = effective.union(own(parent_role));
                seen.push(parent_id);
                parent = parent_role.parent;
            }
            (role.id, effective)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_unique() {
        let mut keys: Vec<_> = Permission::ALL.iter().map(|p| p.key()).collect();
        for p in Permission::ALL {
            assert_eq!(Permission::from_key(p.key()), Some(*p));
        }
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Permission::ALL.len());
    }

    #[test]
    fn stored_form_round_trips_and_ignores_unknown_keys() {
        let set: PermissionSet = [Permission::BillingRead, Permission::AuditRead]
            .into_iter()
            .collect();
        assert_eq!(set.to_stored(), "billing.read audit.read");
        assert_eq!(
            PermissionSet::from_stored("audit.read billing.read future.thing"),
            set
        );
    }

    #[test]
    fn system_role_keys_round_trip() {
        for role in SystemRole::ALL {
            assert_eq!(SystemRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(SystemRole::parse("Owner"), None);
    }

    #[test]
    fn system_roles_are_ranked_and_nested() {
        assert!(
            SystemRole::Owner
                .permissions()
                .is_superset_of(SystemRole::Admin.permissions())
        );
        assert!(
            SystemRole::Admin
                .permissions()
                .is_superset_of(SystemRole::Member.permissions())
        );
        assert!(
            !SystemRole::Admin
                .permissions()
                .contains(Permission::OrgDelete)
        );
        assert!(
            !SystemRole::Member
                .permissions()
                .contains(Permission::BillingRead)
        );
        assert!(SystemRole::Owner.level() > SystemRole::Admin.level());
        assert!(SystemRole::Admin.level() > SystemRole::Member.level());
    }
}
