//! The import's members: the staged users and profiles, joined, named and
//! upserted a batch at a time.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};

use super::legacy;
use crate::error::AppError;
use crate::import::accounts::{self, Account, NoAddress};
use crate::import::model;
use crate::import::report::Report;
use crate::import::staging;
use crate::import::store::{self, BATCH, MemberRow};
use crate::members::model::confusable_key;

/// A member as the staging joins them: user, profile, and what becomes of
/// their address.
#[derive(QueryableByName)]
struct StagedMember {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Bool)]
    is_staff: bool,
    #[diesel(sql_type = Bool)]
    is_superuser: bool,
    #[diesel(sql_type = Timestamptz)]
    date_joined: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_login: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_visit: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    last_ip: Option<String>,
    #[diesel(sql_type = Text)]
    site: String,
    #[diesel(sql_type = Text)]
    avatar_url: String,
    #[diesel(sql_type = Text)]
    biography: String,
    #[diesel(sql_type = Text)]
    sign: String,
    #[diesel(sql_type = Bool)]
    show_email: bool,
    #[diesel(sql_type = Bool)]
    show_sign: bool,
    #[diesel(sql_type = Bool)]
    hover_menus: bool,
    #[diesel(sql_type = Bool)]
    email_for_new_mp: bool,
    #[diesel(sql_type = Bool)]
    has_profile: bool,
    #[diesel(sql_type = Text)]
    address: String,
}

/// Members in Django's pk order, a batch at a time: each batch's names are
/// decided against those taken before it (by members the file does not
/// bring, and by the earlier batches), then upserted.
pub(super) fn import_members(
    conn: &mut PgConnection,
    staff_group: Option<i64>,
    ip_cutoff: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let staff = staff_group.map_or("NULL".to_string(), |pk| pk.to_string());
    // Both inlined are ours (a number, an RFC 3339 instant): a cursor takes no parameters.
    let query = format!(
        "SELECT u.pk, u.username, u.email, u.password, u.is_active, \
             (u.is_staff OR coalesce({staff}::bigint = ANY(u.groups), false)) AS is_staff, u.is_superuser, \
             u.date_joined, u.last_login, p.last_visit, \
             CASE WHEN u.last_login >= '{cutoff}'::timestamptz THEN p.last_ip END AS last_ip, \
             coalesce(p.site, '') AS site, coalesce(p.avatar_url, '') AS avatar_url, \
             coalesce(p.biography, '') AS biography, coalesce(p.sign, '') AS sign, \
             coalesce(p.show_email, false) AS show_email, coalesce(p.show_sign, true) AS show_sign, \
             coalesce(p.hover_menus, true) AS hover_menus, coalesce(p.email_for_new_mp, false) AS email_for_new_mp, \
             p.pk IS NOT NULL AS has_profile, \
             CASE WHEN u.email = '' THEN 'missing' WHEN u.email_key IS NULL THEN 'invalid' \
                  WHEN EXISTS (SELECT 1 FROM zds_taken_addresses t WHERE t.email_key = u.email_key) THEN 'taken' \
                  WHEN k.pk <> u.pk THEN 'shared' ELSE 'kept' END AS address \
         FROM zds_users u LEFT JOIN zds_profiles p ON p.user_pk = u.pk \
         LEFT JOIN zds_keepers k ON k.email_key = u.email_key ORDER BY u.pk",
        cutoff = ip_cutoff.to_rfc3339(),
    );
    staging::each_batch(conn, "zds_members", &query, BATCH, |conn, batch: Vec<StagedMember>| {
        let keys: Vec<String> = batch.iter().map(|m| confusable_key(&m.username)).collect();
        let mut taken = store::taken_names(conn, &keys)?;
        let accounts_in: Vec<Account> = batch
            .iter()
            .zip(keys)
            .map(|(m, key)| Account {
                pk: m.pk,
                username: &m.username,
                key,
                email: &m.email,
                without_address: match m.address.as_str() {
                    "missing" => Some(NoAddress::Missing),
                    "invalid" => Some(NoAddress::Invalid),
                    "taken" => Some(NoAddress::TakenInMemberd),
                    "shared" => Some(NoAddress::SharedButForCase),
                    _ => None,
                },
            })
            .collect();
        let contested = accounts::contested_keys(&accounts_in, &taken);
        if !contested.is_empty() {
            taken.extend(store::taken_names(conn, &contested)?);
        }
        let identities = accounts::identities(&accounts_in, &mut taken, &mut report.conflicts.accounts);
        store::take_names(conn, &identities)?;
        let profiled: Vec<bool> = batch.iter().map(|m| m.has_profile).collect();
        let rows: Vec<MemberRow> = batch
            .into_iter()
            .zip(identities)
            .map(|(m, identity)| MemberRow {
                legacy_id: legacy("user", m.pk),
                username: identity.username,
                skeleton: identity.skeleton,
                email: identity.email,
                email_key: identity.email_key,
                password_hash: m.password,
                is_active: m.is_active,
                is_staff: m.is_staff,
                is_superuser: m.is_superuser,
                date_joined: m.date_joined,
                last_login_at: m.last_login,
                last_visit_at: m.last_visit,
                last_ip: m.last_ip,
                biography: m.biography,
                website: m.site,
                avatar_url: m.avatar_url,
                signature: m.sign,
                show_email: m.show_email,
                show_signature: m.show_sign,
                hover_menus: m.hover_menus,
                email_on_private_message: m.email_for_new_mp,
            })
            .collect();
        let outcomes = store::upsert_members(conn, &rows, "fr")?;
        for (row, has_profile) in rows.iter().zip(profiled) {
            let outcome = outcomes.get(&row.legacy_id).copied();
            report.counts(model::USER).wrote(outcome);
            // A profile is part of its member's row: it counts as that row does.
            if has_profile {
                report.counts(model::PROFILE).wrote(outcome);
            }
        }
        Ok(())
    })
}
