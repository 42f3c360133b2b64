-- Appended to every scenario: counts non-2xx answers per thread and prints one JSON line.
local threads = {}
non2xx = 0

function setup(thread)
  table.insert(threads, thread)
end

local scenario_response = response
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if scenario_response then
    scenario_response(status, headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("non2xx") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, failed))
end
