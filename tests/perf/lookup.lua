-- GET the clerk lookup with queries read from BENCH_QUERIES (one URL-encoded query a line).
-- BENCH_AUTH: the whole Authorization value ("Api-Key lk_..."); BENCH_TOKEN: a DRF token (older run.py)
local auth = os.getenv("BENCH_AUTH") or ("Token " .. (os.getenv("BENCH_TOKEN") or ""))
local path = os.getenv("BENCH_QUERIES")
queries = {}
thread_id = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  for line in io.lines(path) do
    if #line > 0 then queries[#queries + 1] = line end
  end
  math.randomseed(os.time() * 1000 + thread_id)
end

wrk.headers["Authorization"] = auth

function request()
  local q = queries[math.random(1, #queries)]
  return wrk.format("GET", "/api/v1/members/lookup/?q=" .. q)
end
