-- wrk script for bench/sharing_bench.py: the catalog query mix of the bench, one connection
-- per client (wrk -c). Env: HX_TOKEN, HX_NAMES (count of bench-model-N names), HX_TAGS.
local token = os.getenv("HX_TOKEN")
local names = tonumber(os.getenv("HX_NAMES") or "1000")
local tags = tonumber(os.getenv("HX_TAGS") or "100")
local headers = { ["Authorization"] = "Bearer " .. token }

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
end

function request()
  local path
  if math.random() < 0.8 then -- a model's versions, any status
    path = "/api/v1/model_catalog?name=bench-model-" .. math.random(0, names - 1) .. "&status="
  else -- one tag in production
    path = "/api/v1/model_catalog?tag=tag-" .. math.random(0, tags - 1)
  end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  io.write(string.format("WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
    "\"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f, \"errors_status\": %d, \"errors_connect\": %d, " ..
    "\"errors_read\": %d, \"errors_timeout\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.timeout))
end
