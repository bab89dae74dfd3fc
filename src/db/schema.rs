//! Diesel's view of the tables. Private to `db`: nothing outside the
//! repository layer can name a table, so every query goes through a scoped
//! repository function.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        status -> Text,
        email_verified_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        slug -> Nullable<Text>,
        parent_id -> Nullable<Text>,
        personal_owner_id -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        description -> Text,
        billing_email -> Text,
        billing_address -> Text,
        avatar_version -> Integer,
        member_count -> Integer,
        running_agents -> Integer,
        max_running_agents -> Nullable<Integer>,
        max_agent_hours -> Nullable<Integer>,
        app_instances -> Integer,
        max_app_instances -> Nullable<Integer>,
        max_agents_per_member -> Nullable<Integer>,
        roles_version -> Integer,
        invitations_version -> Integer,
        members_version -> Integer,
        team_count -> Integer,
        project_count -> Integer,
        owner_user_id -> Nullable<Text>,
    }
}

diesel::table! {
    workspace_avatars (workspace_id) {
        workspace_id -> Text,
        content_type -> Text,
        bytes -> Binary,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_entries (id) {
        id -> Text,
        workspace_id -> Text,
        actor_user_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        target_label -> Text,
        details -> Text,
        ip -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_versions (workspace_id) {
        workspace_id -> Text,
        version -> Integer,
    }
}

diesel::table! {
    audit_facets (workspace_id, kind, value) {
        workspace_id -> Text,
        kind -> Text,
        value -> Text,
        label -> Text,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        workspace_id -> Text,
        system_key -> Nullable<Text>,
        name -> Text,
        description -> Text,
        level -> Integer,
        permissions -> Text,
        inherits_from_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        own_permissions -> Text,
        member_count -> Integer,
    }
}

diesel::table! {
    memberships (id) {
        id -> Text,
        workspace_id -> Text,
        user_id -> Text,
        role_id -> Text,
        status -> Text,
        joined_at -> Timestamp,
        updated_at -> Timestamp,
        user_name -> Text,
        user_email -> Text,
        user_last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        public_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        state -> Text,
        user_agent -> Text,
        ip -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        active_workspace_id -> Nullable<Text>,
    }
}

diesel::table! {
    throttle_events (id) {
        id -> Text,
        throttle_key -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        workspace_id -> Text,
        email -> Text,
        name -> Text,
        role_id -> Nullable<Text>,
        token_hash -> Text,
        status -> Text,
        invited_by_user_id -> Nullable<Text>,
        invited_by_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        send_count -> Integer,
        last_sent_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by_name -> Nullable<Text>,
        role_name -> Text,
        last_email_id -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> Text,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        invitation_id -> Nullable<Text>,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        description -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::table! {
    project_keys (id) {
        id -> Text,
        workspace_id -> Text,
        project_id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        workspace_id -> Text,
        user_id -> Text,
        name -> Text,
        description -> Text,
        kind -> Text,
        scope -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::table! {
    api_key_windows (key_id, window_minute) {
        key_id -> Text,
        window_minute -> BigInt,
        calls -> Integer,
    }
}

diesel::table! {
    agents (id) {
        id -> Text,
        workspace_id -> Text,
        project_id -> Text,
        name -> Text,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        last_active_at -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        started_by -> Nullable<Text>,
        idle_stopped -> Bool,
    }
}
diesel::table! {
    member_agent_counts (organization_id, user_id) {
        organization_id -> Text,
        user_id -> Text,
        running_agents -> Integer,
    }
}
diesel::table! {
    agent_runs (id) {
        id -> Text,
        workspace_id -> Text,
        agent_id -> Text,
        started_at -> Timestamp,
        stopped_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    app_instances (id) {
        id -> Text,
        workspace_id -> Text,
        app_key -> Text,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        last_active_at -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        idle_stopped -> Bool,
    }
}

diesel::table! {
    wallets (workspace_id) {
        workspace_id -> Text,
        balance -> BigInt,
        spend_month -> Text,
        month_spent -> BigInt,
        monthly_spend_limit -> Nullable<BigInt>,
        models_restricted -> Bool,
        updated_at -> Timestamp,
        plan -> Text,
        plan_fee_paid -> Text,
        member_monthly_limit -> Nullable<BigInt>,
    }
}

diesel::table! {
    member_spend (workspace_id, user_id, month) {
        workspace_id -> Text,
        user_id -> Text,
        month -> Text,
        spent -> BigInt,
    }
}

diesel::table! {
    wallet_models (workspace_id, model) {
        workspace_id -> Text,
        model -> Text,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Text,
        workspace_id -> Text,
        kind -> Text,
        amount -> BigInt,
        balance_after -> BigInt,
        idempotency_key -> Text,
        request_digest -> Text,
        project_id -> Nullable<Text>,
        model -> Nullable<Text>,
        description -> Text,
        user_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    daily_spend (workspace_id, day, project_id, model) {
        workspace_id -> Text,
        day -> Text,
        project_id -> Text,
        model -> Text,
        amount -> BigInt,
        charges -> BigInt,
    }
}

diesel::table! {
    coupons (code) {
        code -> Text,
        amount -> BigInt,
        expires_at -> Nullable<Timestamp>,
        max_redemptions -> Nullable<Integer>,
        redemptions -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    budget_alerts (workspace_id, month, threshold) {
        workspace_id -> Text,
        month -> Text,
        threshold -> Integer,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    top_ups (id) {
        id -> Text,
        workspace_id -> Text,
        amount -> BigInt,
        status -> Text,
        card_last4 -> Text,
        decline_reason -> Text,
        ledger_entry_id -> Nullable<Text>,
        requested_by -> Nullable<Text>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(agents -> projects (project_id));
diesel::joinable!(agent_runs -> agents (agent_id));
diesel::joinable!(projects -> workspaces (workspace_id));
diesel::joinable!(project_keys -> projects (project_id));
diesel::joinable!(memberships -> workspaces (workspace_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> roles (role_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(workspace_avatars -> workspaces (workspace_id));
diesel::joinable!(audit_entries -> workspaces (workspace_id));
diesel::joinable!(audit_facets -> workspaces (workspace_id));
diesel::joinable!(audit_versions -> workspaces (workspace_id));
diesel::joinable!(invitations -> workspaces (workspace_id));
diesel::joinable!(invitations -> roles (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    workspaces,
    roles,
    memberships,
    sessions,
    throttle_events,
    workspace_avatars,
    audit_entries,
    audit_facets,
    audit_versions,
    invitations,
    outbox_emails,
    account_tokens,
    projects,
    project_keys,
    api_keys,
    api_key_windows,
    agents,
    agent_runs,
    app_instances,
    member_agent_counts,
    wallets,
    wallet_models,
    ledger_entries,
    top_ups,
    daily_spend,
    coupons,
    budget_alerts,
    member_spend,
);
