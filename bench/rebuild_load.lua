-- wrk script: rotate over the endpoints and scopes, and count every response that is
-- not a 200 or whose body's build_id differs from its X-Build-Id header (a response
-- mixing two builds).
local paths = {
  "/tasker/analytics/performance",
  "/tasker/analytics/bottlenecks",
  "/tasker/analytics/bottlenecks?period=168",
  "/tasker/analytics/bottlenecks?namespace=payments&period=72",
  "/tasker/analytics/bottlenecks?namespace=ecommerce&task_name=process_order&limit=3",
}
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0
  mixed = 0
  checked = 0
  builds = {}
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    return
  end
  local header = headers["X-Build-Id"] or headers["x-build-id"]
  local served = string.match(body, '"build_id":"([^"]+)"')
  checked = checked + 1
  if header == nil or served ~= header then
    mixed = mixed + 1
  else
    builds[header] = true
  end
end

function done(summary, latency, requests)
  local bad, mix, ok = 0, 0, 0
  local seen = {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad_status")
    mix = mix + thread:get("mixed")
    ok = ok + thread:get("checked")
    for build in pairs(thread:get("builds")) do seen[build] = true end
  end
  local count = 0
  for _ in pairs(seen) do count = count + 1 end
  io.write(string.format(
    "RESULT requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d " ..
    "non_2xx=%d bad_status=%d mixed=%d checked=%d builds=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, bad, mix, ok, count,
    latency:percentile(50), latency:percentile(99)))
end
