-- Coroutines: code that reads sequentially runs concurrently inside
-- client:spawn tasks driven by client:run().
local helpers = require "spec.helpers"

describe("hamsa tasks", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each, after_each },
        { mock = { latency = 0.05 }, clean = "log", client_per_test = true },
        function(s, c) server, client = s, c end)

    it("a task reads like blocking code and returns data, response", function()
        local task = client:spawn(function(name)
            local agent, response = client.agents:create({ agentName = name })
            local copy = assert(client.agents:clone(agent.id, { agentName = name .. " copy" }))
            return agent.agentName, copy.agentName, response.status
        end, "Sara")
        assert.is_false(task.done)
        assert.equal(0, client:run(10))
        assert.is_true(task.done)
        assert.same({ n = 3, "Sara", "Sara copy", 200 }, task.results)
    end)

    it("several tasks run concurrently: every first request goes out before any answer is used", function()
        local events = {}
        for i = 1, 5 do
            client:spawn(function()
                events[#events + 1] = "start" .. i
                local agent = assert(client.agents:create({ agentName = "T" .. i }))
                events[#events + 1] = "created" .. i
                local updated = assert(client.agents:update(agent.id, { lang = "en" }))
                events[#events + 1] = "updated" .. i .. updated.lang
            end)
        end
        -- spawn ran each task up to its first request: five are in flight at once
        assert.same({ "start1", "start2", "start3", "start4", "start5" }, events)
        assert.equal(5, client:pending())
        assert.equal(0, client:run(10))
        assert.equal(15, #events)
        assert.equal(10, #server:requests())
    end)

    it("failures come back as nil, err inside the task", function()
        local task = client:spawn(function()
            local data, err = client.agents:update("missing", { lang = "en" })
            return data, err.kind, err.status
        end)
        client:run(10)
        assert.same({ n = 3, nil, "not_found", 404 }, task.results)
    end)

    it("validation failures return at once inside the task", function()
        local task = client:spawn(function()
            local _, err = client.agents:create({ agentName = "" })
            return err.field
        end)
        assert.is_true(task.done)
        assert.equal("agentName", task.results[1])
    end)

    it("an error raised in a task comes out of run", function()
        local task = client:spawn(function()
            assert(client.agents:create({ agentName = "x" }))
            error("task failed")
        end)
        local ok, err = pcall(client.run, client, 10)
        assert.is_false(ok)
        assert.matches("task failed", err)
        assert.is_true(task.done)
        assert.matches("task failed", task.error)
    end)

    it("outside a task the same calls still block", function()
        local agent = client.agents:create({ agentName = "Plain" })
        assert.equal("Plain", agent.agentName)
        local co = coroutine.wrap(function()
            return client.agents:create({ agentName = "In a foreign coroutine" })
        end)
        assert.equal("In a foreign coroutine", co().agentName)
    end)

    it("raises when spawn gets no function", function()
        assert.is_false((pcall(client.spawn, client, 42)))
    end)
end)
