// One schema for both backends. Written by hand to match migrations/{sqlite,postgres}:
// every id is BigInt, every timestamp a UTC `Timestamp`.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        display_name -> Nullable<Text>,
        is_admin -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        // Moved on by signing out: browser sessions that began under an older one are refused
        // (migration 001000, auth::session).
        session_generation -> BigInt,
    }
}

diesel::table! {
    library_versions (user_id) {
        user_id -> BigInt,
        version -> BigInt,
    }
}

// Reading statistics kept by triggers (migration 000700): see `library::stats`.
diesel::table! {
    reading_months (user_id, month) {
        user_id -> BigInt,
        month -> Text,
        books -> BigInt,
        pages -> BigInt,
        rating_sum -> Double,
        rated -> BigInt,
        days_sum -> BigInt,
        timed -> BigInt,
    }
}

diesel::table! {
    reading_authors (user_id, author) {
        user_id -> BigInt,
        author -> Text,
        books -> BigInt,
    }
}

diesel::table! {
    reading_tags (user_id, tag) {
        user_id -> BigInt,
        tag -> Text,
        books -> BigInt,
    }
}

diesel::table! {
    reading_days (user_id, day) {
        user_id -> BigInt,
        day -> Date,
        events -> BigInt,
    }
}

// Finished readings by rating, kept by triggers (migration 2026-12-05-000410).
diesel::table! {
    reading_ratings (user_id, rating) {
        user_id -> BigInt,
        rating -> Double,
        readings -> BigInt,
    }
}

// Yearly reading goals (migration 2026-12-05-000400): see `library::goals`.
diesel::table! {
    reading_goals (user_id, year) {
        user_id -> BigInt,
        year -> Integer,
        books -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    books (id) {
        id -> BigInt,
        user_id -> BigInt,
        title -> Text,
        authors -> Text,
        isbn10 -> Nullable<Text>,
        isbn13 -> Nullable<Text>,
        pages -> Nullable<Integer>,
        published_year -> Nullable<Integer>,
        publisher -> Nullable<Text>,
        language -> Nullable<Text>,
        tags -> Text,
        description -> Nullable<Text>,
        cover_url -> Nullable<Text>,
        shelf -> Text,
        search_text -> Text,
        dedup_key -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        primary_author -> Text,
        authors_folded -> Text,
        series -> Nullable<Text>,
        rating -> Nullable<Double>,
        import_key -> Nullable<Text>,
        // Migration 2026-12-05-000100_book_identity.
        uid -> Text,
        goodreads_id -> Nullable<Text>,
        binding -> Nullable<Text>,
        added_at -> Timestamp,
        reading_rating -> Nullable<Double>,
        // The latest finish date of the book's readings, kept by triggers (migration
        // 2026-12-05-000300): the library page's "date read" order.
        last_finished_on -> Nullable<Date>,
    }
}

diesel::table! {
    book_tags (book_id, tag) {
        book_id -> BigInt,
        user_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    readings (id) {
        id -> BigInt,
        user_id -> BigInt,
        book_id -> BigInt,
        status -> Text,
        started_on -> Nullable<Date>,
        finished_on -> Nullable<Date>,
        pages_read -> Nullable<Integer>,
        progress -> Nullable<Double>,
        rating -> Nullable<Double>,
        review -> Nullable<Text>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        import_key -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> BigInt,
        client_id -> Text,
        client_secret_hash -> Nullable<Text>,
        client_name -> Text,
        redirect_uris -> Text,
        grant_types -> Text,
        response_types -> Text,
        token_endpoint_auth_method -> Text,
        scope -> Text,
        client_uri -> Nullable<Text>,
        logo_uri -> Nullable<Text>,
        origin -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        metadata_fetched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_consents (id) {
        id -> BigInt,
        user_id -> BigInt,
        client_id -> BigInt,
        scope -> Text,
        created_at -> Timestamp,
        redirect_uri -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_codes (id) {
        id -> BigInt,
        code_hash -> Text,
        client_id -> BigInt,
        user_id -> BigInt,
        redirect_uri -> Text,
        code_challenge -> Text,
        code_challenge_method -> Text,
        scope -> Text,
        resource -> Nullable<Text>,
        grant_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        redirect_uri_sent -> Bool,
    }
}

diesel::table! {
    oauth_tokens (id) {
        id -> BigInt,
        kind -> Text,
        token_hash -> Text,
        jti -> Nullable<Text>,
        user_id -> BigInt,
        client_id -> Nullable<BigInt>,
        scope -> Text,
        audience -> Nullable<Text>,
        grant_id -> Text,
        parent_id -> Nullable<BigInt>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        replacement_sealed -> Nullable<Text>,
        generation -> BigInt,
        secret_hash -> Nullable<Text>,
        rotation_salt -> Nullable<Text>,
    }
}

diesel::table! {
    connectors (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        provider -> Text,
        label -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        api_key_sealed -> Nullable<Text>,
        access_token_sealed -> Nullable<Text>,
        refresh_token_sealed -> Nullable<Text>,
        secret_hint -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        last_refreshed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        refresh_lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    connector_attempts (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        label -> Text,
        state_hash -> Text,
        session_hash -> Text,
        verifier_sealed -> Text,
        redirect_uri -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mcp_sessions (id) {
        id -> BigInt,
        session_hash -> Text,
        user_id -> BigInt,
        protocol_version -> Text,
        client_name -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    encryption_keys (key_id) {
        key_id -> Text,
        canary -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(books -> users (user_id));
diesel::joinable!(book_tags -> books (book_id));
diesel::joinable!(readings -> books (book_id));
diesel::joinable!(readings -> users (user_id));
diesel::joinable!(oauth_consents -> oauth_clients (client_id));
diesel::joinable!(oauth_codes -> oauth_clients (client_id));
diesel::joinable!(oauth_tokens -> users (user_id));
diesel::joinable!(oauth_tokens -> oauth_clients (client_id));
diesel::joinable!(connectors -> users (user_id));
diesel::joinable!(reading_goals -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    library_versions,
    reading_months,
    reading_authors,
    reading_tags,
    reading_days,
    reading_goals,
    reading_ratings,
    users,
    books,
    book_tags,
    readings,
    oauth_clients,
    oauth_consents,
    oauth_codes,
    oauth_tokens,
    connectors,
    mcp_sessions,
    encryption_keys,
    connector_attempts,
);
