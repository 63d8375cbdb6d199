-- POST purchases through the API: spread over members [BENCH_LO, BENCH_HI] or one BENCH_HOT member.
-- Every request has its own external_id (run, thread, counter): no replays, so each 2xx is a write.
-- BENCH_AUTH: the whole Authorization value ("Api-Key lk_..."); BENCH_TOKEN: a DRF token (older run.py)
local auth = os.getenv("BENCH_AUTH") or ("Token " .. (os.getenv("BENCH_TOKEN") or ""))
local lo = tonumber(os.getenv("BENCH_LO") or "1")
local hi = tonumber(os.getenv("BENCH_HI") or "1")
local hot = tonumber(os.getenv("BENCH_HOT") or "0")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
counter = 0
thread_id = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  stamp = tostring(os.time()) .. tostring(math.random(1000, 9999))  -- new ids on every run
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = auth

function request()
  counter = counter + 1
  local member = hot
  if hot == 0 then member = math.random(lo, hi) end
  local body = string.format(
    '{"member_id": %d, "channel": "api", "external_id": "b%s-%d-%d", "amount": "%d.%02d"}',
    member, run .. stamp, thread_id, counter, math.random(1, 200), math.random(0, 99))
  return wrk.format(nil, nil, nil, body)
end
