-- When each token last authenticated: written on a server's token-cache miss, at most once per
-- TUNEYARD_TOKEN_CACHE_SECONDS per token (never once per request).
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;
