--- The routes the library wraps, one row each: the single place a route
-- is written down. Everything else reads this table:
--
-- * `hamsa.resources` builds `client.agents`, `client.calls`, ... from it
--   (argument order, checks, path and query building);
-- * `hamsa.openresty` forwards exactly these calls to its worker threads;
-- * the mock API (`hamsa.mock`) has a handler for each row, and
--   spec/31-route_table_spec.lua checks that it serves every one, and that
--   `hamsa.validate` has the rule set each row with a body names.
--
-- Adding a route is one row here, its rule set in `hamsa.validate` (when it
-- has a body) and its handler in `hamsa.mock.api`.
--
-- A row:
--
--   resource  the field of the client that holds the method ("agents")
--   name      the method's name ("create")
--   method    the HTTP method
--   path      the path, with `{id}` placeholders filled from the method's
--             leading string arguments in order, percent-encoded; a
--             placeholder after `?` goes into the query string instead
--             (clone: the source agent's id is a query parameter,
--             docs/wire.md)
--   body      "required" (a table argument after the ids), "optional"
--             (a table or nil; nil sends `{}`), or absent (no body)
--   query     true when the method takes a table of query parameters
--             (after the body, before opts)
--   validate  the rule set in `hamsa.validate` that checks the body
--   prepare   the wire preparation in `hamsa.prepare` of the body
--
-- Every method then takes `opts` (the request options) last.
-- @module hamsa.routes

return {
    { resource = "agents", name = "create", method = "POST", path = "/v1/voice-agents",
      body = "required", validate = "agent_create", prepare = "agent" },
    { resource = "agents", name = "clone", method = "POST", path = "/v1/voice-agents/clone?voiceAgentId={voiceAgentId}",
      body = "optional", validate = "agent_clone" },
    { resource = "agents", name = "update", method = "PATCH", path = "/v1/voice-agents/{voiceAgentId}",
      body = "required", validate = "agent_update", prepare = "agent" },
    { resource = "agents", name = "get", method = "GET", path = "/v1/voice-agents/{voiceAgentId}" },
    { resource = "calls", name = "phone_number", method = "POST", path = "/v1/voice-agents/phone-number/call",
      body = "required", validate = "call_phone_number", prepare = "call" },
    { resource = "calls", name = "twilio", method = "POST", path = "/v1/voice-agents/twilio/call",
      body = "required", validate = "call_twilio", prepare = "call" },
}
