-- GET the clerk lookup with queries read from BENCH_QUERIES (one URL-encoded query a line).
local token = os.getenv("BENCH_TOKEN")
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

wrk.headers["Authorization"] = "Token " .. token

function request()
  local q = queries[math.random(1, #queries)]
  return wrk.format("GET", "/api/v1/members/lookup/?q=" .. q)
end
