//! The shared schema as Diesel `table!` definitions.
//!
//! These describe exactly the tables `adapter_interfaces::schema::statements`
//! creates (a test checks the column lists against the entities' metadata);
//! timestamps and JSON use this crate's [`Ts`](crate::types::Ts) and
//! [`Json`](crate::types::Json) types, whose storage differs per database.

#![allow(missing_docs)]

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    tenants (id) {
        id -> Text,
        friendly_name -> Text,
        audience -> Nullable<Text>,
        sender_email -> Nullable<Text>,
        sender_name -> Nullable<Text>,
        support_url -> Nullable<Text>,
        session_lifetime -> Nullable<BigInt>,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    users (tenant_id, user_id) {
        tenant_id -> Text,
        user_id -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        username -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        phone_verified -> Bool,
        name -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        nickname -> Nullable<Text>,
        picture -> Nullable<Text>,
        locale -> Nullable<Text>,
        provider -> Text,
        connection -> Text,
        is_social -> Bool,
        blocked -> Bool,
        linked_to -> Nullable<Text>,
        last_ip -> Nullable<Text>,
        last_login -> Nullable<Ts>,
        login_count -> BigInt,
        app_metadata -> Json,
        user_metadata -> Json,
        created_at -> Ts,
        updated_at -> Ts,
        name_folded -> Nullable<Text>,
        given_name_folded -> Nullable<Text>,
        family_name_folded -> Nullable<Text>,
        nickname_folded -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    applications (tenant_id, client_id) {
        tenant_id -> Text,
        client_id -> Text,
        name -> Text,
        client_secret -> Nullable<Text>,
        app_type -> Nullable<Text>,
        callbacks -> Json,
        allowed_origins -> Json,
        web_origins -> Json,
        allowed_logout_urls -> Json,
        grant_types -> Json,
        is_first_party -> Bool,
        client_metadata -> Json,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    connections (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        strategy -> Text,
        display_name -> Nullable<Text>,
        options -> Json,
        enabled_clients -> Json,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    sessions (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        login_session_id -> Nullable<Text>,
        device -> Json,
        clients -> Json,
        expires_at -> Nullable<Ts>,
        idle_expires_at -> Nullable<Ts>,
        authenticated_at -> Nullable<Ts>,
        last_interaction_at -> Nullable<Ts>,
        used_at -> Nullable<Ts>,
        revoked_at -> Nullable<Ts>,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    codes (tenant_id, code_id) {
        tenant_id -> Text,
        code_id -> Text,
        code_type -> Text,
        login_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        expires_at -> Ts,
        used_at -> Nullable<Ts>,
        redirect_uri -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    passwords (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        password -> Text,
        algorithm -> Text,
        is_current -> Bool,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Json, Ts};

    logs (tenant_id, log_id) {
        tenant_id -> Text,
        log_id -> Text,
        #[sql_name = "type"]
        log_type -> Text,
        date -> Ts,
        description -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        user_id -> Nullable<Text>,
        user_name -> Nullable<Text>,
        connection -> Nullable<Text>,
        client_id -> Nullable<Text>,
        client_name -> Nullable<Text>,
        details -> Json,
    }
}

diesel::table! {
    switchyard_schema (version) {
        version -> BigInt,
    }
}
