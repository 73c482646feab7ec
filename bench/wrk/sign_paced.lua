-- sign.lua with a random pause (mean PAUSE_MS) before each request, so that the connections
-- together offer about a given rate instead of as many as the server can take:
-- wrk ... -s sign_paced.lua URL -- RUN_ID CODES_FILE PAUSE_MS
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "sign"

local pause = 0
local sign_init = init

function init(args)
   sign_init(args)
   pause = tonumber(args[3])
end

function delay()
   -- Uniform around the mean, so that the connections do not fall into step (bursts).
   return math.random(0, 2 * pause)
end
