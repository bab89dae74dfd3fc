//! Apps: a catalogue from configuration, and instances a workspace
//! installs, stops, starts and removes. Installing is where the limit
//! holds: the workspace's instance counter (and, for a team, its
//! organization's) is raised only below its limit in the installing
//! transaction. Idle instances are stopped by the idle job with the agents.

use crate::config::AppSpec;
use crate::db::audit::{Actor, Event};
use crate::db::scope::{Scope, Tenant};
use crate::db::{self, Db, write_transaction};
use crate::domain::AppInstanceId;
use crate::services::{ServiceError, billing};

/// The catalogue app with this key.
pub fn spec<'a>(catalogue: &'a [AppSpec], key: &str) -> Option<&'a AppSpec> {
    catalogue.iter().find(|app| app.key == key)
}

/// A catalogue app's name (or its key, for an app since removed from the
/// catalogue: its instances stay listed).
pub fn name_of(catalogue: &[AppSpec], key: &str) -> String {
    spec(catalogue, key).map_or_else(|| key.to_owned(), |app| app.name.clone())
}

/// Installs an instance of the catalogue app `key` in the active
/// workspace, within its instance limit and its organization's.
pub async fn install(
    db: &Db,
    scope: &Scope,
    catalogue: &[AppSpec],
    key: &str,
) -> Result<String, ServiceError> {
    let app = spec(catalogue, key).ok_or(ServiceError::NotFound)?.clone();
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            claim(
                conn,
                &scope.tenant(),
                &scope.workspace().name,
                "this workspace's",
            )?;
            billing::refuse_if_suspended(conn, &scope.tenant())?;
            if let Some(parent) = scope.parent_tenant() {
                claim(conn, &parent, "the organization", "the organization's")?;
            }
            let id = db::apps::install(conn, &scope, &app.key)?;
            let event = Event::app_install(&id, &app.name)
                .with_details(format!("{} a month", price(app.monthly_price_cents)));
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(app.name)
        })
    })
    .await
}

/// `$12.50`.
pub fn price(cents: u32) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn claim(
    conn: &mut db::AnyConnection,
    workspace: &Tenant,
    label: &str,
    whose: &str,
) -> Result<(), ServiceError> {
    if db::apps::claim_slot(conn, workspace)? {
        return Ok(());
    }
    let (count, limit) = db::apps::count_and_limit(conn, workspace)?;
    Err(ServiceError::LimitReached(format!(
        "{label} has {count} of the {} app instances it may have: remove one first, \
         or ask someone with “Set limits and quotas” to raise {whose} limit on the Resources tab.",
        limit.unwrap_or(count)
    )))
}

/// Starts a stopped instance or stops a running one; returns its app's name.
pub async fn set_running(
    db: &Db,
    scope: &Scope,
    catalogue: &[AppSpec],
    id: AppInstanceId,
    running: bool,
) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let catalogue = catalogue.to_vec();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let instance = db::apps::find(conn, &scope, &id)?;
            if running {
                billing::refuse_if_suspended(conn, &scope.tenant())?;
            }
            db::apps::set_running(conn, &scope, &id, running).map_err(|_| {
                ServiceError::Refused(if running {
                    "This app is already running."
                } else {
                    "This app is not running."
                })
            })?;
            let name = name_of(&catalogue, &instance.app_key);
            let event = if running {
                Event::app_start(&id, &name)
            } else {
                Event::app_stop(&id, &name)
            };
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(name)
        })
    })
    .await
}

/// Removes an instance and frees its place under the limits.
pub async fn uninstall(
    db: &Db,
    scope: &Scope,
    catalogue: &[AppSpec],
    id: AppInstanceId,
) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let catalogue = catalogue.to_vec();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let instance = db::apps::find(conn, &scope, &id)?;
            db::apps::uninstall(conn, &scope, &id)?;
            db::apps::release_slot(conn, &scope.tenant())?;
            if let Some(parent) = scope.parent_tenant() {
                db::apps::release_slot(conn, &parent)?;
            }
            let name = name_of(&catalogue, &instance.app_key);
            let event = Event::app_uninstall(&id, &name);
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(name)
        })
    })
    .await
}

/// Stops instances idle for longer than `idle`, in one transaction,
/// each audited as Tenantry's doing. Returns how many.
pub async fn stop_idle(
    db: &Db,
    catalogue: &[AppSpec],
    idle: chrono::Duration,
) -> Result<usize, ServiceError> {
    let catalogue = catalogue.to_vec();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let stopped = db::apps::stop_idle(conn, db::now() - idle)?;
            for (id, workspace, app) in &stopped {
                let name = name_of(&catalogue, app);
                let event = Event::app_idle_stop(id, &name).with_details(format!(
                    "no activity for {} hours; start it again to resume",
                    idle.num_hours()
                ));
                db::audit::record_by_system(conn, workspace, &event)?;
            }
            Ok::<_, ServiceError>(stopped.len())
        })
    })
    .await
}

/// The platform reports that it used an app instance of the workspace its
/// key opens: a running one's idle clock starts again; one the idle job
/// stopped runs again (audited as Tenantry's), unless the workspace is
/// suspended. One a person stopped stays stopped (409); another
/// workspace's is not found. Returns whether it was resumed.
pub async fn record_use(
    db: &Db,
    catalogue: &[AppSpec],
    presented: &str,
    id: AppInstanceId,
) -> Result<bool, ServiceError> {
    let (presented, catalogue) = (presented.to_owned(), catalogue.to_vec());
    db.run(move |conn| {
        let key = crate::services::projects::key_in(conn, &presented)?
            .ok_or(ServiceError::KeyRejected)?;
        let tenant = key.workspace;
        let workspace = tenant.workspace_id();
        write_transaction(conn, |conn| {
            let Some((app, resumed)) = db::apps::use_instance(conn, &tenant, &id)? else {
                return Err(if db::apps::exists_in(conn, &tenant, &id)? {
                    ServiceError::Refused(
                        "A person stopped this app: start it again on the apps page.",
                    )
                } else {
                    ServiceError::NotFound
                });
            };
            if resumed {
                billing::refuse_if_suspended(conn, &tenant)?;
                let name = name_of(&catalogue, &app);
                let event =
                    Event::app_resume(&id, &name).with_details("used again after an idle stop");
                db::audit::record_by_system(conn, workspace, &event)?;
            }
            Ok::<_, ServiceError>(resumed)
        })
    })
    .await
}
