// @generated automatically by Diesel CLI.

diesel::table! {
    app_meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    appeals (id) {
        id -> Int8,
        sanction_id -> Int8,
        member_id -> Int8,
        text -> Text,
        created_at -> Timestamptz,
        outcome -> Nullable<Text>,
        reason -> Nullable<Text>,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        previous_duration_seconds -> Nullable<Int8>,
        reduced_duration_seconds -> Nullable<Int8>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Int8,
        action -> Text,
        target_member_id -> Nullable<Int8>,
        target -> Nullable<Text>,
        reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        details -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    events (id) {
        id -> Int8,
        event_type -> Text,
        occurred_at -> Timestamptz,
        member_id -> Nullable<Int8>,
        data -> Jsonb,
    }
}

diesel::table! {
    factor_throttles (member_id) {
        member_id -> Int8,
        failures -> Int4,
        last_failure_at -> Timestamptz,
    }
}

diesel::table! {
    forbidden_email_domains (domain) {
        domain -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    groups (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jwt_keys (kid) {
        kid -> Text,
        private_key_pem -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    karma_notes (id) {
        id -> Int8,
        member_id -> Int8,
        author_id -> Nullable<Int8>,
        note -> Text,
        karma -> Int4,
        created_at -> Timestamptz,
        legacy_id -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttles (scope, identifier, ip) {
        scope -> Text,
        identifier -> Text,
        ip -> Text,
        failures -> Int4,
        last_failure_at -> Timestamptz,
        previous_failure_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    member_factors (id) {
        id -> Uuid,
        member_id -> Int8,
        kind -> Text,
        name -> Text,
        created_at -> Timestamptz,
        confirmed_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        totp_secret -> Nullable<Bytea>,
        totp_last_step -> Nullable<Int8>,
        credential_id -> Nullable<Bytea>,
        passkey -> Nullable<Jsonb>,
        passkey_user_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    member_groups (member_id, group_id) {
        member_id -> Int8,
        group_id -> Int8,
    }
}

diesel::table! {
    member_ips (member_id, ip) {
        member_id -> Int8,
        ip -> Text,
        first_seen_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    member_tokens (id) {
        id -> Int8,
        member_id -> Int8,
        kind -> Text,
        token_hash -> Bytea,
        payload -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    members (id) {
        id -> Int8,
        username -> Text,
        username_skeleton -> Text,
        email -> Text,
        email_key -> Nullable<Text>,
        password_hash -> Text,
        is_active -> Bool,
        is_staff -> Bool,
        is_superuser -> Bool,
        locale -> Text,
        date_joined -> Timestamptz,
        last_login_at -> Nullable<Timestamptz>,
        last_visit_at -> Nullable<Timestamptz>,
        last_ip -> Nullable<Text>,
        biography -> Text,
        website -> Text,
        avatar_url -> Text,
        signature -> Text,
        show_email -> Bool,
        show_signature -> Bool,
        hover_menus -> Bool,
        email_on_private_message -> Bool,
        is_system -> Bool,
        deactivated_at -> Nullable<Timestamptz>,
        legacy_id -> Nullable<Text>,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Bytea,
        member_id -> Int8,
        remember_me -> Bool,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        passkey_state -> Nullable<Jsonb>,
    }
}

diesel::table! {
    rate_limits (bucket, key) {
        bucket -> Text,
        key -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    recovery_codes (member_id, code_hash) {
        member_id -> Int8,
        code_hash -> Bytea,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        created_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    report_entries (report_id, reporter_id) {
        report_id -> Int8,
        reporter_id -> Int8,
        reason -> Text,
        text -> Text,
        evidence_url -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reporter_tallies (member_id) {
        member_id -> Int8,
        actioned -> Int4,
        dismissed -> Int4,
    }
}

diesel::table! {
    reports (id) {
        id -> Int8,
        member_id -> Int8,
        resource -> Nullable<Text>,
        state -> Text,
        assignee_id -> Nullable<Int8>,
        claimed_at -> Nullable<Timestamptz>,
        resolution_note -> Nullable<Text>,
        resolution_message -> Nullable<Text>,
        resolved_by -> Nullable<Int8>,
        resolved_at -> Nullable<Timestamptz>,
        sanction_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sanction_counts (member_id) {
        member_id -> Int8,
        sanctions -> Int8,
    }
}

diesel::table! {
    sanctions (id) {
        id -> Int8,
        member_id -> Int8,
        kind -> Text,
        resource -> Nullable<Text>,
        reason -> Text,
        private_note -> Text,
        duration_seconds -> Nullable<Int8>,
        moderator_id -> Int8,
        created_at -> Timestamptz,
        ended_kind -> Nullable<Text>,
        ended_at -> Nullable<Timestamptz>,
        ended_by -> Nullable<Int8>,
        end_reason -> Nullable<Text>,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        expiry_recorded -> Bool,
        legacy_id -> Nullable<Text>,
    }
}

diesel::table! {
    service_clients (id) {
        id -> Int8,
        name -> Text,
        scopes -> Array<Text>,
        key_hash -> Bytea,
        key_prefix -> Text,
        created_by -> Int8,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        member_id -> Int8,
        remember_me -> Bool,
        created_at -> Timestamptz,
        refreshed_at -> Timestamptz,
        expires_at -> Timestamptz,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        amr -> Array<Text>,
    }
}

diesel::table! {
    spent_passkey_ceremonies (id) {
        id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    username_history (id) {
        id -> Int8,
        member_id -> Int8,
        old_username -> Text,
        new_username -> Text,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        attempted_at -> Timestamptz,
        response_status -> Nullable<Int4>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        webhook_id -> Int8,
        event_id -> Int8,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Int8,
        url -> Text,
        event_types -> Array<Text>,
        secret -> Text,
        created_by -> Int8,
        created_at -> Timestamptz,
        last_event_id -> Int8,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
    }
}

diesel::joinable!(appeals -> sanctions (sanction_id));
diesel::joinable!(factor_throttles -> members (member_id));
diesel::joinable!(member_factors -> members (member_id));
diesel::joinable!(member_groups -> groups (group_id));
diesel::joinable!(member_groups -> members (member_id));
diesel::joinable!(member_ips -> members (member_id));
diesel::joinable!(member_tokens -> members (member_id));
diesel::joinable!(mfa_challenges -> members (member_id));
diesel::joinable!(recovery_codes -> members (member_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(report_entries -> members (reporter_id));
diesel::joinable!(report_entries -> reports (report_id));
diesel::joinable!(reporter_tallies -> members (member_id));
diesel::joinable!(reports -> sanctions (sanction_id));
diesel::joinable!(sanction_counts -> members (member_id));
diesel::joinable!(service_clients -> members (created_by));
diesel::joinable!(sessions -> members (member_id));
diesel::joinable!(username_history -> members (member_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhooks -> members (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    app_meta,
    appeals,
    audit_log,
    events,
    factor_throttles,
    forbidden_email_domains,
    groups,
    jwt_keys,
    karma_notes,
    login_throttles,
    member_factors,
    member_groups,
    member_ips,
    member_tokens,
    members,
    mfa_challenges,
    rate_limits,
    recovery_codes,
    refresh_tokens,
    report_entries,
    reporter_tallies,
    reports,
    sanction_counts,
    sanctions,
    service_clients,
    sessions,
    spent_passkey_ceremonies,
    username_history,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
);
