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
--   body_args the names of string arguments (after the ids) that make the
--             body: remove_url(id, url) sends `{ url = url }`
--   query     true when the method takes a table of query parameters
--             (after the body, before opts)
--   validate  the rule set in `hamsa.validate` that checks the body
--   query_validate  the rule set in `hamsa.validate` that checks the query
--   prepare   the wire preparation in `hamsa.prepare` of the body
--   paging    a list's paging style (hamsa.pager): "page" (skip is the
--             page from 1, take its size), "page_string" (the same, sent as
--             strings), "offset" (skip is an offset), "per_page" (page and
--             perPage), "bare" (page as strings, the reply a bare array);
--             such a row also gives its resource an `each` iterator
--   items     the field of a list's reply that holds the page's items
--   total     the field that holds the total count (default "total")
--
-- A resource name with a dot ("v2.agents") is reached as client.v2.agents.
-- Every method then takes `opts` (the request options) last.
-- @module hamsa.routes

local V1 = "/v1/voice-agents"

return {
    -- agents (v1)
    { resource = "agents", name = "create", method = "POST", path = V1,
      body = "required", validate = "agent_create", prepare = "agent" },
    { resource = "agents", name = "clone", method = "POST", path = V1 .. "/clone?voiceAgentId={voiceAgentId}",
      body = "optional", validate = "agent_clone" },
    { resource = "agents", name = "update", method = "PATCH", path = V1 .. "/{voiceAgentId}",
      body = "required", validate = "agent_update", prepare = "agent" },
    { resource = "agents", name = "get", method = "GET", path = V1 .. "/{voiceAgentId}" },
    { resource = "agents", name = "list", method = "GET", path = V1,
      query = true, query_validate = "agents_list_query", paging = "page", items = "voiceAgents" },
    -- agents (v2: nested conversation, voice, llm, callSettings)
    { resource = "v2.agents", name = "create", method = "POST", path = "/v2/voice-agents",
      body = "required", validate = "agent_v2_create", prepare = "agent_v2" },
    { resource = "v2.agents", name = "get", method = "GET", path = "/v2/voice-agents/{voiceAgentId}" },
    { resource = "v2.agents", name = "update", method = "PATCH", path = "/v2/voice-agents/{voiceAgentId}",
      body = "required", validate = "agent_v2_update", prepare = "agent_v2" },
    { resource = "v2.agents", name = "list", method = "GET", path = "/v2/voice-agents",
      query = true, query_validate = "agents_list_query", paging = "page", items = "voiceAgents" },
    -- calls
    { resource = "calls", name = "phone_number", method = "POST", path = V1 .. "/phone-number/call",
      body = "required", validate = "call_phone_number", prepare = "call" },
    { resource = "calls", name = "twilio", method = "POST", path = V1 .. "/twilio/call",
      body = "required", validate = "call_twilio", prepare = "call" },
    { resource = "calls", name = "start", method = "POST", path = V1 .. "/call",
      body = "required", validate = "call_start", prepare = "call" },
    -- conversations (a placed call is a conversation; its id is the call's jobId / id)
    { resource = "conversations", name = "get", method = "GET", path = V1 .. "/conversation/{conversationId}" },
    { resource = "conversations", name = "list", method = "GET", path = V1 .. "/conversations/minimal-list",
      query = true, query_validate = "conversations_list_query", paging = "per_page", items = "calls" },
    { resource = "conversations", name = "terminate", method = "GET",
      path = V1 .. "/conversation/{conversationId}/terminate" },
    -- phone numbers
    { resource = "phone_numbers", name = "create", method = "POST", path = V1 .. "/phone-number",
      body = "required", validate = "phone_number_create" },
    { resource = "phone_numbers", name = "list", method = "GET", path = V1 .. "/phone-number/list",
      query = true, query_validate = "phone_numbers_list_query", paging = "bare" },
    { resource = "phone_numbers", name = "assign", method = "POST", path = V1 .. "/assign-number",
      body = "required", validate = "phone_number_assign" },
    { resource = "phone_numbers", name = "unassign", method = "POST", path = V1 .. "/unassign",
      body = "required", validate = "phone_number_unassign" },
    -- campaigns (server-side batch calls)
    { resource = "campaigns", name = "create", method = "POST", path = V1 .. "/campaigns",
      body = "required", validate = "campaign_create", prepare = "campaign" },
    { resource = "campaigns", name = "list", method = "GET", path = V1 .. "/campaigns",
      query = true, query_validate = "campaigns_list_query", paging = "offset", items = "campaigns",
      total = "totalCount" },
    { resource = "campaigns", name = "get", method = "GET", path = V1 .. "/campaigns/{campaignId}" },
    { resource = "campaigns", name = "update", method = "PATCH", path = V1 .. "/campaigns/{campaignId}",
      body = "required", validate = "campaign_update" },
    -- knowledge base
    { resource = "knowledge_base", name = "create", method = "POST", path = V1 .. "/knowledge-base",
      body = "required", validate = "knowledge_base_create", prepare = "knowledge_base" },
    { resource = "knowledge_base", name = "list", method = "GET", path = V1 .. "/knowledge-base/list",
      query = true, query_validate = "knowledge_base_list_query", paging = "page_string", items = "items" },
    { resource = "knowledge_base", name = "get", method = "GET", path = V1 .. "/knowledge-base/{itemId}" },
    { resource = "knowledge_base", name = "update", method = "PATCH", path = V1 .. "/knowledge-base/{itemId}",
      body = "required", validate = "knowledge_base_update" },
    { resource = "knowledge_base", name = "remove_url", method = "DELETE", path = V1 .. "/knowledge-base/{itemId}/url",
      body_args = { "url" }, validate = "knowledge_base_remove_url" },
}
