//! What a process keeps in memory of a workspace between page views, each
//! kind with the version of it (a counter on the workspace row, moved by
//! trigger in the same transaction as any change) it was read at. Every
//! session load reads those versions with the workspace, so a request whose
//! load saw the version an entry was kept at gets data at least as new as
//! its own view of the workspace, on any number of instances, without
//! asking the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::audit::Entry;
use crate::db::invitations::Listed;
use crate::db::members::RoleRow;
use crate::domain::WorkspaceId;
use crate::web::settings::members::ListedMember;

/// Entries are forgotten wholesale past this many workspaces (a miss costs
/// one small read).
const MAX_CACHED_WORKSPACES: usize = 10_000;

/// One kind of workspace data as this process last read it, by workspace,
/// with the version the reading request's session load saw; forgotten
/// wholesale past `CAPACITY` workspaces.
pub struct VersionedCache<T, const CAPACITY: usize = MAX_CACHED_WORKSPACES>(
    Mutex<HashMap<WorkspaceId, (i32, T)>>,
);

impl<T, const CAPACITY: usize> Default for VersionedCache<T, CAPACITY> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone, const CAPACITY: usize> VersionedCache<T, CAPACITY> {
    /// What is kept for `workspace` at `version`, if that is what is kept.
    pub fn get(&self, workspace: &WorkspaceId, version: i32) -> Option<T> {
        let kept = self.0.lock().ok()?;
        kept.get(workspace)
            .filter(|(at, _)| *at == version)
            .map(|(_, value)| value.clone())
    }

    /// What a view whose session load saw `version` finds kept for
    /// `workspace`: see [`Kept::or_read`].
    pub fn lookup(&self, workspace: &WorkspaceId, version: i32) -> Kept<T> {
        match self.get(workspace, version) {
            Some(kept) => Kept::Current(kept),
            None => Kept::Missing {
                workspace: workspace.clone(),
                version,
            },
        }
    }

    /// Keeps `value`, read after a session load that saw `version`.
    pub fn put(&self, workspace: &WorkspaceId, version: i32, value: T) {
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        if kept.len() >= CAPACITY {
            kept.clear();
        }
        kept.insert(workspace.clone(), (version, value));
    }
}

/// What a page view found in a [`VersionedCache`].
pub enum Kept<T> {
    /// Not looked for: this view reads it (or doesn't show it) and keeps
    /// nothing (a search, a later page, a viewer it isn't shown to).
    Unkept,
    /// Kept at the version this view's session load saw.
    Current(T),
    /// To be read by this view, then kept at `version`.
    Missing {
        /// Whose.
        workspace: WorkspaceId,
        /// The version this view's session load saw.
        version: i32,
    },
}

impl<T: Clone> Kept<T> {
    /// Whether it was kept, so this view needn't read it.
    pub fn is_current(&self) -> bool {
        matches!(self, Self::Current(_))
    }

    /// Whether it is to be read and kept.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing { .. })
    }

    /// What the view shows: what was kept, else what it `read` (kept in
    /// `cache` for the next view when it was [`Kept::Missing`]).
    pub fn or_read<const CAPACITY: usize>(
        self,
        cache: &VersionedCache<T, CAPACITY>,
        read: Option<T>,
    ) -> Option<T> {
        match (self, read) {
            (Self::Current(kept), _) => Some(kept),
            (Self::Missing { workspace, version }, Some(read)) => {
                cache.put(&workspace, version, read.clone());
                Some(read)
            }
            (_, read) => read,
        }
    }
}

/// Each workspace's roles, by `workspaces.roles_version`: a page with role
/// menus so costs no statement for them (the session load bringing them
/// instead made PostgreSQL's work for that statement a third dearer).
pub type RoleCache = VersionedCache<Vec<RoleRow>>;

/// Each workspace's invitations as the members page lists them, by
/// `workspaces.invitations_version`: the owner's members page so costs the
/// statements of a plain member's (on PostgreSQL that third statement was
/// a fifth of the page's rate). Kept as read; the page brings them up to
/// the time of its view (`Listed::as_seen_at`).
pub type InvitationCache = VersionedCache<Arc<Listed>>;

/// A page of members is up to 51 rows with their HTML (about 65 KB for an
/// organization's), so fewer workspaces' are kept than of the lists above:
/// at most about 33 MB.
const MAX_CACHED_MEMBER_PAGES: usize = 500;

/// Each workspace's first page of members (no search, no cursor: the view
/// the Members tab opens on), by `workspaces.members_version`: that view so
/// costs no statement beyond the session load's (its rows were two fifths
/// of the instructions of a view of an organization's members on SQLite,
/// and a round trip on PostgreSQL), and with its rows' HTML rendered
/// (`ListedMember`), the view copies them rather than escaping and
/// formatting them again. Later pages and searches are read.
pub type MemberPageCache = VersionedCache<Arc<Vec<ListedMember>>, MAX_CACHED_MEMBER_PAGES>;

/// Each workspace's latest activity as the dashboard shows it (its newest
/// entries, as read by the log's first page), by `audit_versions.version`:
/// a dashboard view so costs no statement beyond the session load's (that
/// second round trip was about a quarter of a PostgreSQL dashboard view's
/// cost). What the dashboard shows of an entry never changes once it is
/// recorded (a deleted account only clears the actor's id, which it doesn't
/// show), so only a new entry makes the kept list old.
pub type LatestActivityCache = VersionedCache<Arc<Vec<Entry>>>;
