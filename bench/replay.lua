-- Replays pre-signed webhook bodies (bench/bodies.py), each body once.
--
--   wrk -t1 -c64 -d30s --latency -s bench/replay.lua URL/webhook/messenger \
--       -- BODIES THREADS [RATE [MARKER]]
--
-- Thread i of THREADS keeps lines i, i+k, i+2k... of BODIES, so no two threads send the
-- same body. Without RATE (or 0) every connection sends as fast as it is answered; with
-- RATE, requests leave on a fixed schedule of RATE a second in all (while connections
-- last). A thread that has sent all of its bodies sends nothing more: its connections wait
-- out the run, and the figures below cover the seconds it took, not -d. With MARKER, a
-- thread that has had an answer to each of its bodies creates the file MARKER-<i>, so the
-- caller can stop wrk (SIGINT) once every thread is done instead of waiting out -d.
-- done() prints one line `replay: key=value ...` that load_bench.py parses.

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_usec; } replay_timeval;
  int gettimeofday(replay_timeval *tv, void *tz);
]])
local clock = ffi.new("replay_timeval")

local function now_us()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_usec)
end

local threads = {}
local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  local path, step, rate = args[1], tonumber(args[2]), tonumber(args[3] or "0")
  marker = args[4] and (args[4] .. "-" .. index) or nil
  sha256, sha1, bodies = {}, {}, {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % step == index then
      local a = line:find("\t", 1, true)
      local b = line:find("\t", a + 1, true)
      table.insert(sha256, line:sub(1, a - 1))
      table.insert(sha1, line:sub(a + 1, b - 1))
      table.insert(bodies, line:sub(b + 1))
    end
    line_number = line_number + 1
  end
  count = #bodies
  interval_us = rate > 0 and step * 1000000 / rate or 0
  next_slot_us = nil
  reserved, sent, resent, ok, failed, exhausted = 0, 0, 0, 0, 0, 0
  first_us, last_us = 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- wrk asks delay() before each request and builds it later, so a body is reserved here:
-- two connections asking at once never both get the last one
function delay()
  if reserved >= count then
    exhausted = 1
    return 3600 * 1000 -- nothing new to send: wait out the run
  end
  reserved = reserved + 1
  if interval_us == 0 then
    return 0
  end
  local now = now_us()
  next_slot_us = math.max(next_slot_us or now, now - 1000000) -- no catch-up burst
  local wait_ms = (next_slot_us - now) / 1000
  next_slot_us = next_slot_us + interval_us
  return math.max(0, math.floor(wait_ms))
end

local function build(n)
  wrk.headers["X-Hub-Signature-256"] = sha256[n]
  wrk.headers["X-Hub-Signature"] = sha1[n]
  return wrk.format(nil, nil, nil, bodies[n])
end

function request()
  if reserved == 0 then -- wrk checks the script's request once before any delay(): not sent
    return build(1)
  end
  sent = sent + 1
  if first_us == 0 then
    first_us = now_us()
  end
  if sent > count then -- only after a reconnect: the last body again, and counted
    resent = resent + 1
    return build(count)
  end
  return build(sent)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    last_us = now_us()
  else
    failed = failed + 1
  end
  if marker and ok + failed == count then
    io.open(marker, "w"):close()
  end
end

function done(summary, latency, requests)
  local total = { bodies = 0, sent = 0, resent = 0, ok = 0, failed = 0, exhausted = 0 }
  local first, last = nil, 0
  for _, thread in ipairs(threads) do
    total.bodies = total.bodies + thread:get("count")
    total.sent = total.sent + thread:get("sent")
    total.resent = total.resent + thread:get("resent")
    total.ok = total.ok + thread:get("ok")
    total.failed = total.failed + thread:get("failed")
    total.exhausted = total.exhausted + thread:get("exhausted")
    local thread_first = thread:get("first_us")
    if thread_first > 0 and (first == nil or thread_first < first) then
      first = thread_first
    end
    last = math.max(last, thread:get("last_us"))
  end
  local seconds = first and last > first and (last - first) / 1000000 or 0
  io.write(string.format(
    "replay: bodies=%d sent=%d resent=%d ok=%d failed=%d exhausted_threads=%d"
      .. " seconds=%.3f p50_us=%d p99_us=%d\n",
    total.bodies, total.sent, total.resent, total.ok, total.failed, total.exhausted,
    seconds, latency:percentile(50), latency:percentile(99)))
end
