//! What a process keeps in memory of a workspace between page views, each
//! kind with the version of it (a counter on the workspace row, moved by
//! trigger in the same transaction as any change) it was read at. Every
//! session load reads those versions with the workspace, so a request whose
//! load saw the version an entry was kept at gets data at least as new as
//! its own view of the workspace, on any number of instances, without
//! asking the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::invitations::Listed;
use crate::db::members::RoleRow;
use crate::domain::WorkspaceId;

/// Entries are forgotten wholesale past this many workspaces (a miss costs
/// one small read).
const MAX_CACHED_WORKSPACES: usize = 10_000;

/// One kind of workspace data as this process last read it, by workspace,
/// with the version the reading request's session load saw.
pub struct VersionedCache<T>(Mutex<HashMap<WorkspaceId, (i32, T)>>);

impl<T> Default for VersionedCache<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> VersionedCache<T> {
    /// What is kept for `workspace` at `version`, if that is what is kept.
    pub fn get(&self, workspace: &WorkspaceId, version: i32) -> Option<T> {
        let kept = self.0.lock().ok()?;
        kept.get(workspace)
            .filter(|(at, _)| *at == version)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value`, read after a session load that saw `version`.
    pub fn put(&self, workspace: &WorkspaceId, version: i32, value: T) {
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        if kept.len() >= MAX_CACHED_WORKSPACES {
            kept.clear();
        }
        kept.insert(workspace.clone(), (version, value));
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
