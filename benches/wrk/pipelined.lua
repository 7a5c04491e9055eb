-- Pipelining for wrk: every write carries DEPTH requests back to back, and
-- wrk counts DEPTH responses for it.
--   wrk -s benches/wrk/pipelined.lua http://127.0.0.1:8000/index.html -- 16
local depth = 1

function init(args)
   depth = tonumber(args[1] or "1")
   local one = wrk.format(nil, nil, { Host = "bench" })
   batch = string.rep(one, depth)
end

function request()
   return batch
end
