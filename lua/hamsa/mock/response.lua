--- The mock's responses: what it answers, before it goes on the wire.
-- A response is `{ status = n, headers = { {name, value}, ... }, body = s }`;
-- the API's answers are JSON envelopes `{ success, message, messageKey,
-- data }`. hamsa.mock.wire writes them.
-- @module hamsa.mock.response
-- @license MIT

local json = require("hamsa.core").json

local gsub, lower, upper = string.gsub, string.lower, string.upper
local ipairs, tostring = ipairs, tostring

local JSON_TYPE = "application/json; charset=utf-8"

local M = {}

--- The reason phrase of `status` ("Not Found"), or nil for one not listed:
-- the library's own table.
M.reason = require("hamsa.errors").reason

--- An error envelope's messageKey made from a phrase: "NOT_FOUND".
function M.key(phrase)
    return upper((gsub(phrase, "%W+", "_")))
end

--- A response with `body` as it is (Content-Type JSON unless given).
function M.response(status, body, content_type)
    return {
        status = status,
        headers = {
            { "Server", "hamsa-mock" },
            { "Date", os.date("!%a, %d %b %Y %H:%M:%S GMT") },
            { "Content-Type", content_type or JSON_TYPE },
        },
        body = body,
    }
end

--- A response with `value` encoded; a 500 if it does not encode.
function M.json(status, value)
    local body, err = json.encode(value)
    if not body then   -- e.g. a logged body that is not valid UTF-8
        status = 500
        body = '{"success":false,"message":"mock cannot encode the response: '
            .. gsub(tostring(err), '[^%w .,:;_-]', "?") .. '","messageKey":"INTERNAL_ERROR"}'
    end
    return M.response(status, body)
end

--- A 200 in the API's envelope.
function M.ok(message, data, key)
    return M.json(200, { success = true, message = message, messageKey = key, data = data })
end

--- An error in the API's envelope.
function M.fail(status, message, key)
    return M.json(status, { success = false, message = message, messageKey = key })
end

--- Adds or replaces a header (Content-Length is always computed here).
function M.set_header(res, name, value)
    local lname = lower(name)
    if lname == "content-length" then return end
    for _, h in ipairs(res.headers) do
        if lower(h[1]) == lname then h[2] = value; return end
    end
    res.headers[#res.headers + 1] = { name, value }
end

return M
