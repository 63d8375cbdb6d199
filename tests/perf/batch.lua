-- POST batches of BENCH_BATCH fresh purchases (POST /api/v1/ledger/purchases/batch/), members
-- drawn from [BENCH_LO, BENCH_HI]. Every purchase has its own external_id (run, thread, counter):
-- no replays. Counts the purchases each answer says were created and prints, at the end,
-- "created <n> in <microseconds>" for tests/perf/run.py (section "batch").
local auth = os.getenv("BENCH_AUTH") or ""
local lo = tonumber(os.getenv("BENCH_LO") or "1")
local hi = tonumber(os.getenv("BENCH_HI") or "1")
local size = tonumber(os.getenv("BENCH_BATCH") or "200")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
counter = 0
created = 0
thread_id = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  stamp = tostring(os.time()) .. tostring(math.random(1000, 9999))  -- new ids on every run
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = auth

function request()
  local items = {}
  for i = 1, size do
    counter = counter + 1
    items[i] = string.format(
      '{"member_id": %d, "channel": "api", "external_id": "B%s-%d-%d", "amount": "%d.%02d"}',
      math.random(lo, hi), run .. stamp, thread_id, counter, math.random(1, 200),
      math.random(0, 99))
  end
  return wrk.format(nil, nil, nil, '{"purchases": [' .. table.concat(items, ",") .. ']}')
end

function response(status, headers, body)
  local n = string.match(body, '"created":%s*(%d+)')
  if n then created = created + tonumber(n) end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("created") end
  io.write(string.format("created %d in %d\n", total, summary.duration))
end
