//! Coupons: created by an operator, redeemed once per workspace within
//! their expiry and number of redemptions.

use super::{Credit, MAX_TOP_UP, credit};
use crate::db::audit::{Actor, Event};
use crate::db::scope::Scope;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{FieldErrors, LedgerKind, Money};
use crate::services::ServiceError;

/// A coupon code as typed, normalised: letters, digits and hyphens, in
/// capitals.
pub fn coupon_code(typed: &str) -> Result<String, &'static str> {
    let code = typed.trim().to_uppercase();
    let well_formed = (3..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if well_formed {
        Ok(code)
    } else {
        Err("Enter the coupon's code: 3 to 40 letters, digits and hyphens.")
    }
}

/// A coupon as an operator asks for it on the command line.
pub struct NewCoupon<'a> {
    /// The code, as typed.
    pub code: &'a str,
    /// Credits, as typed.
    pub credits: &'a str,
    /// Last day it may be redeemed (`YYYY-MM-DD`, through the end of that
    /// day UTC).
    pub expires: Option<&'a str>,
    /// How many workspaces may redeem it.
    pub max_redemptions: Option<i32>,
}

/// Creates a coupon (the CLI's `tenantry coupon create`); returns its code.
pub fn create_coupon(
    conn: &mut db::AnyConnection,
    coupon: &NewCoupon<'_>,
) -> Result<String, ServiceError> {
    let mut errors = FieldErrors::new();
    let code = errors.check("code", coupon_code(coupon.code));
    let amount = errors.check("credits", Money::parse_credits(coupon.credits, MAX_TOP_UP));
    let expires_at = match coupon.expires {
        None => None,
        Some(day) => errors
            .check(
                "expires",
                chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| "Give the last day as YYYY-MM-DD."),
            )
            .and_then(|day| day.succ_opt())
            .map(|day| day.and_time(chrono::NaiveTime::MIN)),
    };
    if coupon.max_redemptions.is_some_and(|n| n < 1) {
        errors.add("max-redemptions", "Allow at least one redemption.");
    }
    let (Some(code), Some(amount)) = (code, amount) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    db::billing::create_coupon(conn, &code, amount, expires_at, coupon.max_redemptions).map_err(
        |e| match e {
            db::DbError::Conflict(db::UniqueKey::CouponCode) => {
                ServiceError::invalid("code", "A coupon has this code.")
            }
            other => other.into(),
        },
    )?;
    Ok(code)
}

/// Redeems a coupon into the scoped wallet: at most once per workspace,
/// within its expiry and its number of redemptions, in one transaction
/// with its ledger entry and audit entry. Returns what it added.
pub async fn redeem_coupon(db: &Db, scope: &Scope, typed: &str) -> Result<Money, ServiceError> {
    let code = coupon_code(typed).map_err(|m| ServiceError::invalid("code", m))?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let Some(amount) = db::billing::claim_coupon(conn, &code)? else {
                    return Err(why_not_redeemable(conn, &code)?);
                };
                let description = format!("Coupon {code}");
                credit(
                    conn,
                    &Credit {
                        workspace: &scope.tenant(),
                        kind: LedgerKind::Coupon,
                        amount,
                        idempotency_key: &format!("coupon:{code}"),
                        description: &description,
                        user: Some(scope.user_id()),
                    },
                )?;
                let event = Event::wallet_coupon(&code, &description)
                    .with_details(format!("{amount} credits"));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(amount)
            })
        })
        .await;
    match outcome {
        Err(e) if e.is_conflict_on(&UniqueKey::LedgerIdempotencyKey) => Err(ServiceError::invalid(
            "code",
            "This workspace has already redeemed this coupon.",
        )),
        other => other,
    }
}

fn why_not_redeemable(
    conn: &mut db::AnyConnection,
    code: &str,
) -> Result<ServiceError, ServiceError> {
    let message = match db::billing::coupon(conn, code)? {
        None => "No coupon has this code: check it for typos.".to_owned(),
        Some(coupon) => match coupon.expires_at {
            Some(at) if at <= db::now() => {
                format!(
                    "This coupon expired on {}.",
                    crate::domain::time::format_time(&at)
                )
            }
            _ => "This coupon has been redeemed as often as it may be.".to_owned(),
        },
    };
    let mut errors = FieldErrors::new();
    errors.add("code", message);
    Ok(ServiceError::Invalid(errors))
}
