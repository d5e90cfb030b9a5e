--- Tasks (`client:spawn`): coroutines whose calls read as blocking but
-- yield to the client's loop. A task's call yields `START, call` first and
-- `resume` starts it, so that where the yield cannot happen (Lua 5.1,
-- inside a pcall) the call raises before anything was sent or left in
-- flight; the call's on_done resumes the task with the call's results
-- (docs/client.md, "Tasks"). A task may also await a timer (hamsa.loop's
-- M.timer): it yields the same way and is resumed when the timer is due.
--
-- An internal task (M.spawn with `internal`: hamsa.waiter's on_done mode)
-- works the same but is not counted in `_ntasks`, so `client:run()`
-- returns the number of the caller's own tasks; its calls are counted in
-- `pending()` like every task call, which keeps `wait`/`run` driving it.
-- @module hamsa.tasks
local errors = require "hamsa.errors"
local loop = require "hamsa.loop"

local pcall, error, tostring, select, setmetatable = pcall, error, tostring, select, setmetatable
local format = string.format
local cocreate, coresume, corunning, costatus, coyield =
    coroutine.create, coroutine.resume, coroutine.running, coroutine.status, coroutine.yield
local unpack = table.unpack or unpack       -- luacheck: ignore unpack
local complete, start_call = loop.complete, loop.start
local YIELD_THROUGH_PCALL = loop.YIELD_THROUGH_PCALL

local M = {}

local Task = {}
Task.__index = Task
Task.__name = "hamsa.task"
M.Task = Task

-- What a task yields to have its request started.
local START = {}

local function pack(...)
    return { n = select("#", ...), ... }
end

-- Starts the call (or timer) a task yielded: in flight from now on, and
-- the task resumes from its on_done.
local function start(self, call)
    self._pending = self._pending + 1
    if self._closed then
        return complete(self, call, nil, errors.new("cancelled", "the client is closed"))
    end
    local ok, e = pcall(start_call, self, call)
    if not ok then
        complete(self, call, nil, errors.new("network", format("%s %s: %s", call.method, call.path, tostring(e))))
    end
end

-- Records the end of a task: its results, or its error, raised by
-- poll/wait/run like any callback error.
local function finish(self, task, res)
    self._tasks[task.co] = nil
    if not task.internal then self._ntasks = self._ntasks - 1 end
    task.done = true
    if res[1] then
        task.results = { n = res.n - 1, unpack(res, 2, res.n) }
    else
        task.error = res[2]
        error(res[2], 0)
    end
end

--- Resumes a task with the results of its request; records its end.
local function resume(self, task, ...)
    local res = pack(coresume(task.co, ...))
    if costatus(task.co) ~= "dead" then
        if res[1] and res[2] == START then
            task.call = res[3]              -- what it waits on (hamsa.waiter's cancel reads it)
            return start(self, res[3])
        end
        -- it yielded, but not in a request of ours: nothing here can know
        -- what to resume it with, so it ends with an error
        res = { false, "hamsa: a task yielded outside a hamsa call (use a coroutine of your own for that)" }
    end
    finish(self, task, res)
end
M.resume = resume

--- The task of the running coroutine, when a blocking-looking call there
-- must yield to the loop instead; nil otherwise. On Lua 5.1, inside a
-- callback that deliver runs, a call cannot yield (it would cross the
-- pcall), so it blocks instead.
function M.current(self)
    local co = corunning()
    local task = self._tasks[co or 0]
    if task and not YIELD_THROUGH_PCALL and self._calling[co] then return nil end
    return task
end

--- Runs `call` inside `task`: yields to the loop until it completes.
-- @return data, response | nil, err, response
function M.await(self, task, call)
    call.on_done = function(...) return resume(self, task, ...) end
    local data, err, response = coyield(START, call)
    if err then return nil, err, response end
    return data, response
end

--- Makes and starts a task running `fn(...)`; it runs until its first
-- request. `internal`: not counted in `_ntasks` (see the top).
function M.spawn(self, fn, internal, ...)
    local task = setmetatable({ co = cocreate(fn), done = false, internal = internal or nil }, Task)
    self._tasks[task.co] = task
    if not internal then self._ntasks = self._ntasks + 1 end
    resume(self, task, ...)
    return task
end

return M
