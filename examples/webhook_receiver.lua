-- A webhook receiver: Hamsa POSTs a call's events (call.started,
-- call.answered, transcription.update, tool.executed, call.ended) to the
-- agent's or the call's webhookUrl, with `Authorization: <authKey> <authSecret>`
-- from its webhookAuth. This process checks that header, answers at once,
-- drops repeated deliveries, and prints each event.
--
--   HAMSA_WEBHOOK_SECRET=... lua5.4 examples/webhook_receiver.lua [port]
--
-- Set the agent's (or the call's) webhookUrl to this server's URL and its
-- webhookAuth to { authKey = "Token", authSecret = <the same secret> }.
-- Hamsa only calls https:// URLs: put it behind a TLS proxy, or use the
-- nginx recipe in README ("Webhooks"). EXIT_AFTER_CALL_ENDED=1 stops it
-- after the first call.ended (the examples spec uses it).
local hamsa = require "hamsa"

local port = tonumber(arg[1]) or 8080
local exit_after = os.getenv("EXIT_AFTER_CALL_ENDED")
local srv

srv = hamsa.webhook.serve {
    host = "127.0.0.1",
    port = port,
    auth_key = "Token",
    auth_secret = os.getenv("HAMSA_WEBHOOK_SECRET") or "change-me",
    on_event = function(event)
        if event.eventType ~= "call.ended" then
            print(("%-22s %s"):format(event.eventType, event.callId))
        else
            local c = event.conversation or {}
            local outcome = type(c.outcomeResult) == "table" and c.outcomeResult or {}
            print(("%-22s %s  %s  recording=%s  turns=%d  name=%s"):format(event.eventType, event.callId,
                tostring(event.data and event.data.status), tostring(c.conversationRecording),
                type(c.transcription) == "table" and #c.transcription or 0, tostring(outcome.name)))
            if exit_after then srv:close() end
        end
        io.stdout:flush()
    end,
}
print("listening " .. srv:url())
io.stdout:flush()
srv:run()
